/**
 * How the edge proves to the origin who the caller is: an HMAC-SHA256 over the request (time,
 * request id, method, path with query, user id and a SHA-256 of the body) with a secret both
 * share (ORIGIN_SHARED_SECRET). The origin refuses unsigned, forged, stale (±60 s) or replayed
 * (same signature) requests. Web Crypto only, so both runtimes run this same code.
 *
 * The MAC is checked over the header values exactly as they arrived, never over a value parsed
 * and printed again: `1796…000.0`, `+1796…`, `1.796e12` or a user id in another case would
 * otherwise carry the signature of a different text. Each signed header has one spelling
 * (SIGNED_HEADER_SYNTAX); anything else is refused before the MAC is computed.
 */

export const SIGNATURE_HEADERS = {
  user: "x-edge-user",
  timestamp: "x-edge-timestamp",
  requestId: "x-edge-request-id",
  signature: "x-edge-signature",
} as const;

/** Requests older or newer than this are refused. */
export const MAX_SIGNATURE_SKEW_MS = 60_000;

/**
 * The one spelling of each signed header. The timestamp is milliseconds in plain decimal digits
 * (no sign, point, exponent, spaces or leading zeros); the request id is the edge's X-Request-Id rule
 * (edge/src/middleware.ts); the user id is printable ASCII without outer spaces (what it must
 * be, a lowercase UUID or an operator name, is for the receiving route to say); the signature is
 * lowercase hex.
 */
export const SIGNED_HEADER_SYNTAX = {
  timestamp: /^(?:0|[1-9][0-9]{0,15})$/,
  requestId: /^[A-Za-z0-9._-]{8,128}$/,
  user: /^[\x21-\x7e](?:[\x20-\x7e]{0,254}[\x21-\x7e])?$/,
  signature: /^[0-9a-f]{64}$/,
} as const;

const enc = new TextEncoder();

function hex(buf: ArrayBuffer): string {
  return [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function sha256Hex(body: Uint8Array): Promise<string> {
  // Copy into a plain ArrayBuffer-backed view: digest() does not take shared buffers.
  return hex(await crypto.subtle.digest("SHA-256", new Uint8Array(body)));
}

async function hmacHex(secret: string, text: string): Promise<string> {
  const key = await crypto.subtle.importKey("raw", enc.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  return hex(await crypto.subtle.sign("HMAC", key, enc.encode(text)));
}

export interface SignedParts {
  method: string;
  /** Path and query as sent to the origin, e.g. "/v1/posts?x=1". */
  pathWithQuery: string;
  userId: string;
  timestampMs: number;
  requestId: string;
  body: Uint8Array;
}

/** The signed text, from the header values as they are sent (the timestamp as its header text). */
async function canonicalText(p: Omit<SignedParts, "timestampMs"> & { timestamp: string }): Promise<string> {
  return [p.timestamp, p.requestId, p.method.toUpperCase(), p.pathWithQuery, p.userId, await sha256Hex(p.body)].join(
    "\n",
  );
}

export async function canonicalString(p: SignedParts): Promise<string> {
  return canonicalText({ ...p, timestamp: String(p.timestampMs) });
}

/**
 * The signature headers of a request. Throws on parts the origin would refuse (a timestamp
 * that is not a non-negative integer, a request id or user id outside SIGNED_HEADER_SYNTAX):
 * what is signed is exactly what is sent.
 */
export async function signRequest(secret: string, p: SignedParts): Promise<Record<string, string>> {
  const timestamp = String(p.timestampMs);
  if (!Number.isSafeInteger(p.timestampMs) || !SIGNED_HEADER_SYNTAX.timestamp.test(timestamp))
    throw new Error("signRequest: timestampMs must be a non-negative integer of milliseconds");
  if (!SIGNED_HEADER_SYNTAX.requestId.test(p.requestId))
    throw new Error("signRequest: requestId must match [A-Za-z0-9._-]{8,128}");
  if (!SIGNED_HEADER_SYNTAX.user.test(p.userId))
    throw new Error("signRequest: userId must be printable ASCII without outer spaces");
  return {
    [SIGNATURE_HEADERS.user]: p.userId,
    [SIGNATURE_HEADERS.timestamp]: timestamp,
    [SIGNATURE_HEADERS.requestId]: p.requestId,
    [SIGNATURE_HEADERS.signature]: await hmacHex(secret, await canonicalText({ ...p, timestamp })),
  };
}

/** Constant-time comparison of two hex strings. */
function safeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

export type VerifyResult =
  | {
      ok: true;
      userId: string;
      requestId: string;
      /** The verified signature: unique to this exact request, so the key of the replay guard. */
      signature: string;
    }
  | { ok: false; reason: string };

/** Whether a request carries every signature header (checked before its body is read). */
export function hasSignatureHeaders(headers: (name: string) => string | undefined): boolean {
  return Object.values(SIGNATURE_HEADERS).every((h) => Boolean(headers(h)));
}

export async function verifyRequest(
  secret: string,
  req: { method: string; pathWithQuery: string; headers: (name: string) => string | undefined; body: Uint8Array },
  nowMs: number,
): Promise<VerifyResult> {
  const userId = req.headers(SIGNATURE_HEADERS.user);
  const ts = req.headers(SIGNATURE_HEADERS.timestamp);
  const requestId = req.headers(SIGNATURE_HEADERS.requestId);
  const signature = req.headers(SIGNATURE_HEADERS.signature);
  if (!userId || !ts || !requestId || !signature) return { ok: false, reason: "unsigned request" };
  // Syntax first, on the values as sent: no parse-and-print can make two texts one signature.
  if (!SIGNED_HEADER_SYNTAX.timestamp.test(ts)) return { ok: false, reason: "malformed signature timestamp" };
  if (!SIGNED_HEADER_SYNTAX.requestId.test(requestId)) return { ok: false, reason: "malformed signed request id" };
  if (!SIGNED_HEADER_SYNTAX.user.test(userId)) return { ok: false, reason: "malformed signed user id" };
  if (!SIGNED_HEADER_SYNTAX.signature.test(signature)) return { ok: false, reason: "bad signature" };
  const timestampMs = Number(ts);
  if (Math.abs(nowMs - timestampMs) > MAX_SIGNATURE_SKEW_MS) {
    return { ok: false, reason: "stale signature timestamp" };
  }
  const expected = await hmacHex(
    secret,
    await canonicalText({
      method: req.method,
      pathWithQuery: req.pathWithQuery,
      userId,
      timestamp: ts,
      requestId,
      body: req.body,
    }),
  );
  if (!safeEqual(expected, signature)) return { ok: false, reason: "bad signature" };
  return { ok: true, userId, requestId, signature };
}
