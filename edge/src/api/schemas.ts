/**
 * The public API's shapes as zod schemas, for the OpenAPI document (edge/openapi.json) and the
 * typed client (edge/client/). Requests are validated with the schemas in edge/core and
 * edge/src/validation.ts (the routes reuse them here); responses are built by the routes from
 * edge/core's types, which these schemas mirror (a type check below keeps them in step).
 */
import { z } from "@hono/zod-openapi";
import { type ErrorCode, STATUS_OF } from "#core/errors.ts";
import type { Rejection } from "#core/events/schema.ts";
import type { FeedItemOut } from "#core/feed/present.ts";
import type { HealthBody } from "#core/health.ts";
import type { NotificationsPageOut } from "#core/notifications/read.ts";
import type { CandidateSource } from "#core/ranking/candidates.ts";
import type { PostStatsBody } from "#core/reads/post-stats.ts";
import type { CommentOut, ListedUser as ListedUserOut, PostOut, ProfileOut } from "#core/reads/shapes.ts";
import type { SuggestedUser } from "#core/reads/suggestions.ts";

const uuid = z.string().meta({ format: "uuid" });

export const UserCard = z.object({ id: uuid, handle: z.string(), display_name: z.string() }).openapi("UserCard");

export const PostCounts = z
  .object({
    likes: z.number().int().meta({ description: "Live likes (everyone's, the author's own included)." }),
    comments: z.number().int().meta({ description: "Live comments." }),
    shares: z.number().int().meta({ description: "Counted shares (one per user, never the author's own)." }),
  })
  .meta({ description: "Current within ~2 s of the writes and events." })
  .openapi("PostCounts");

export const PostViewer = z
  .object({ liked: z.boolean(), following_author: z.boolean() })
  .meta({ description: "The caller's state; null where no one is signed in (trending)." })
  .openapi("PostViewer");

export const Post = z
  .object({
    post_id: uuid,
    author_id: uuid,
    author: UserCard,
    created_at: z.string().meta({ format: "date-time" }),
    text: z.string(),
    counts: PostCounts,
    viewer: PostViewer.nullable(),
  })
  .openapi("Post");

export const FeedItem = Post.extend({
  source: z.enum(["follow", "trending", "affinity"] satisfies CandidateSource[]).meta({
    description: "Which candidate source found the post first: follow (F1), trending (F2), affinity (F3).",
  }),
  score: z.number(),
  explain: z
    .object({
      freshness: z.number(),
      engagement: z.number(),
      affinity: z.number(),
      base_score: z
        .number()
        .meta({ description: "0.30·freshness + 0.40·engagement + 0.30·affinity (weights are configuration)" }),
      diversity_multiplier: z.number(),
    })
    .optional()
    .meta({ description: "Present with `explain=1`: the score's parts." }),
}).openapi("FeedItem");

export const FeedPage = z
  .object({
    items: z.array(FeedItem),
    next_cursor: z
      .string()
      .nullable()
      .meta({ description: "Opaque; pass as `cursor` for the next page of the same snapshot. null on the last page." }),
    experiment: z
      .object({
        name: z.string().meta({ description: "The running ranking experiment (a slug)." }),
        variant: z.string().meta({ description: "The caller's variant: its weights ranked this snapshot." }),
      })
      .nullable()
      .meta({
        description:
          "The ranking experiment and variant this page's snapshot was ranked under (null outside any experiment). Assigned by hashing (experiment, user id): the same on every request, device and edge; every page of a cursor reports its snapshot's variant, never a new assignment. Clients may echo both on their events (`experiment`, `variant`); the intake fills them in from the caller's newest snapshot when left out.",
      }),
  })
  .openapi("FeedPage");

export const TrendingPage = z.object({ items: z.array(FeedItem) }).openapi("TrendingPage");

const nextCursor = z
  .string()
  .nullable()
  .meta({ description: "Opaque; pass as `cursor` for the next page of this list. null on the last page." });

export const PostsPage = z.object({ items: z.array(Post), next_cursor: nextCursor }).openapi("PostsPage");

export const UserProfile = z
  .object({
    id: uuid,
    handle: z.string(),
    display_name: z.string(),
    bio: z.string(),
    created_at: z.string().meta({ format: "date-time" }),
    counts: z.object({
      followers: z.number().int(),
      following: z.number().int(),
      posts: z.number().int().meta({ description: "Live posts, the whole history." }),
    }),
    viewer: z
      .object({
        following: z.boolean().meta({ description: "You follow them." }),
        followed_by: z.boolean().meta({ description: "They follow you." }),
        blocking: z.boolean().meta({ description: "You block them (such a profile is a 404, so false here)." }),
      })
      .meta({ description: "Your relation to them (all false on your own profile)." }),
  })
  .openapi("UserProfile");

export const ListedUser = UserCard.extend({
  viewer: z.object({ following: z.boolean(), followed_by: z.boolean() }),
}).openapi("ListedUser");

export const UsersPage = z.object({ items: z.array(ListedUser), next_cursor: nextCursor }).openapi("UsersPage");

export const Comment = z
  .object({
    comment_id: uuid,
    post_id: uuid,
    author: UserCard,
    created_at: z.string().meta({ format: "date-time" }),
    text: z.string(),
  })
  .openapi("Comment");

export const CommentsPage = z.object({ items: z.array(Comment), next_cursor: nextCursor }).openapi("CommentsPage");

export const NotificationGroup = z
  .object({
    id: z.string().meta({ description: "The group's id (stable while the group lives)." }),
    kind: z.enum(["like", "comment", "follow"]).meta({
      description: "like: someone liked your post; comment: someone commented on it; follow: someone followed you.",
    }),
    post_id: uuid.nullable().meta({ description: "The post (likes, comments); null for follows." }),
    day: z.string().meta({ format: "date", description: "The UTC day of the group's actions." }),
    actors: z.array(UserCard).meta({ description: "The newest actors you may see, newest first (at most 3)." }),
    count: z.number().int().meta({ description: "Distinct actors in the group (those hidden from you left out)." }),
    latest_at: z.string().meta({ format: "date-time", description: "When the group's newest action happened." }),
    unread: z.boolean().meta({ description: "latest_at is after your seen mark." }),
  })
  .openapi("NotificationGroup");

export const NotificationsPage = z
  .object({
    items: z.array(NotificationGroup),
    unread: z.number().int().meta({ description: "Your groups newer than your seen mark (all pages)." }),
    next_cursor: nextCursor,
  })
  .openapi("NotificationsPage");

export const SuggestedUsers = z
  .object({
    users: z.array(
      z.object({
        user_id: uuid,
        score: z.number(),
        reason: z.enum(["followed_by_your_follows", "popular"]),
      }),
    ),
  })
  .openapi("SuggestedUsers");

export const EventsAccepted = z
  .object({
    accepted: z.number().int().meta({ description: "Events appended to the event stream." }),
    rejected: z
      .array(z.object({ index: z.number().int(), error: z.string() }))
      .meta({ description: "Events refused one by one (their index in the request and why)." }),
  })
  .openapi("EventsAccepted");

export const Health = z
  .object({
    status: z.literal("ok"),
    service: z.literal("edge-feed"),
    component: z.enum(["edge", "origin"]),
    version: z.string(),
  })
  .openapi("Health");

/** Rows the origin returns for writes (PostgreSQL rows, times as ISO strings). */
export const Profile = z
  .object({
    user: z.object({
      id: uuid,
      handle: z.string(),
      display_name: z.string(),
      bio: z.string(),
      created_at: z.string().meta({ format: "date-time" }),
      updated_at: z.string().meta({ format: "date-time" }),
    }),
  })
  .openapi("Profile");

export const CreatedPost = z
  .object({
    post: z.object({
      id: uuid,
      author_id: uuid,
      text: z.string(),
      created_at: z.string().meta({ format: "date-time" }),
    }),
  })
  .openapi("CreatedPost");

export const CreatedComment = z
  .object({
    comment: z.object({
      id: uuid,
      post_id: uuid,
      author_id: uuid,
      text: z.string(),
      created_at: z.string().meta({ format: "date-time" }),
    }),
  })
  .openapi("CreatedComment");

const counts = {
  impressions: z.number().int().meta({ description: "Counted impressions (one per user, post and day)." }),
  views: z.number().int(),
  clicks: z.number().int().meta({ description: "Counted clicks (one per user and post)." }),
  likes: z.number().int().meta({ description: "Likes made minus likes taken back (PostgreSQL writes through CDC)." }),
  comments: z.number().int().meta({ description: "Comments made minus comments deleted." }),
  shares: z.number().int().meta({ description: "Counted shares (one per user and post)." }),
};

export const PostStats = z
  .object({
    post_id: uuid,
    author_id: uuid,
    from: z
      .string()
      .meta({ format: "date-time", description: "Start of the window's first hour (7 days: 168 hours up to now)." }),
    generated_at: z
      .string()
      .meta({ format: "date-time", description: "When ClickHouse was read (the answer is cached 30 s)." }),
    hours: z
      .array(
        z.object({ hour: z.string().meta({ format: "date-time", description: "Start of the hour, UTC." }), ...counts }),
      )
      .meta({ description: "Hours with any activity, oldest first; an hour that is not listed had none." }),
    totals: z.object(counts).meta({ description: "The sums over the window." }),
  })
  .openapi("PostStats");

/** Every error code, from edge/core's status table. */
export const ERROR_CODES = Object.keys(STATUS_OF) as [ErrorCode, ...ErrorCode[]];

/** The one error envelope (edge/core/errors.ts). */
export const ErrorEnvelope = z
  .object({
    error: z.object({
      code: z.enum(ERROR_CODES),
      message: z.string(),
      details: z
        .unknown()
        .optional()
        .meta({ description: "Extra facts, e.g. the per-event rejections of a batch with no valid event." }),
    }),
  })
  .openapi("Error");

// The schemas describe what the routes answer: edge/core's types must fit them both ways.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const check = <T extends true>() => undefined as unknown as T;
check<Same<z.infer<typeof FeedItem>["source"], FeedItemOut["source"]>>();
check<Same<Omit<z.infer<typeof FeedItem>, "source">, Omit<FeedItemOut, "source">>>();
check<Same<z.infer<typeof SuggestedUsers>["users"][number], SuggestedUser>>();
check<Same<z.infer<typeof EventsAccepted>["rejected"][number], Rejection>>();
check<Same<z.infer<typeof Health>, HealthBody>>();
check<Same<z.infer<typeof PostStats>, PostStatsBody>>();
check<Same<z.infer<typeof Post>, PostOut>>();
check<Same<z.infer<typeof UserProfile>, ProfileOut>>();
check<Same<z.infer<typeof ListedUser>, ListedUserOut>>();
check<Same<z.infer<typeof Comment>, CommentOut>>();
check<Same<z.infer<typeof NotificationsPage>, NotificationsPageOut>>();
