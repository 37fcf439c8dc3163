/** Bodies of the write endpoints (validated by the origin, which owns the writes). */
import { z } from "zod";

/**
 * User text as PostgreSQL can store it: `text` refuses the NUL character, which JSON allows
 * (`"\u0000"`), so it is a 400 here rather than a database error (a 500) later.
 */
const userText = () => z.string().refine((s) => !s.includes("\u0000"), "must not contain the NUL character (\\u0000)");

export const profileSchema = z
  .object({
    handle: z.string().regex(/^[A-Za-z0-9_]{1,32}$/, "1-32 letters, digits or underscores"),
    display_name: userText().pipe(z.string().max(64)).meta({ maxLength: 64 }).optional(),
    bio: userText().pipe(z.string().max(280)).meta({ maxLength: 280 }).optional(),
  })
  .strict();

// `.meta` only describes the bounds for the OpenAPI document (the pipe is the check).
export const newPostSchema = z
  .object({ text: userText().pipe(z.string().trim().min(1).max(2000)).meta({ minLength: 1, maxLength: 2000 }) })
  .strict();
export const newCommentSchema = z
  .object({ text: userText().pipe(z.string().trim().min(1).max(1000)).meta({ minLength: 1, maxLength: 1000 }) })
  .strict();
