import { describe, expect, it } from "vitest";
import { isUuid, uuidSchema } from "./uuid.ts";

const ID = "11111111-1111-4111-8111-111111111111";

describe("the UUID check", () => {
  it("accepts either case and any version", () => {
    expect(isUuid(ID)).toBe(true);
    expect(isUuid("ABCDEF01-2345-6789-ABCD-EF0123456789")).toBe(true);
    expect(isUuid("00000000-0000-0000-0000-000000000000")).toBe(true);
  });

  it.each(["", "bob", `${ID}0`, ` ${ID}`, ID.replace(/-/g, ""), "1111111g-1111-4111-8111-111111111111"])(
    "refuses %j",
    (value) => {
      expect(isUuid(value)).toBe(false);
      expect(uuidSchema.safeParse(value).error?.issues[0]?.message).toBe("must be a UUID");
    },
  );
});
