export * from "./cursor.ts";
export * from "./errors.ts";
export * from "./keys.ts";
export * from "./ranking/candidates.ts";
export * from "./ranking/rank.ts";
export * from "./ranking/score.ts";
export * from "./service.ts";
export * from "./topics.ts";
