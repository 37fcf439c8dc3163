/** Bodies of the write endpoints (validated by the origin, which owns the writes). */
import { z } from "zod";

export const profileSchema = z
  .object({
    handle: z.string().regex(/^[A-Za-z0-9_]{1,32}$/, "1-32 letters, digits or underscores"),
    display_name: z.string().max(64).optional(),
    bio: z.string().max(280).optional(),
  })
  .strict();

export const newPostSchema = z.object({ text: z.string().trim().min(1).max(2000) }).strict();
export const newCommentSchema = z.object({ text: z.string().trim().min(1).max(1000) }).strict();
