import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterEach, describe, expect, it, vi } from "vitest";
import { installFailpoints, midBatch } from "./failpoint.ts";

const batch = (offsets: string[]) => ({
  topic: "events",
  partition: 4,
  messages: offsets.map((offset) => ({ offset })) as never,
});

describe("the mid-batch failpoint", () => {
  afterEach(() => vi.restoreAllMocks());

  it("does nothing until SIGUSR2 arms it, then kills its process in the named part's next batch only", () => {
    const kill = vi.spyOn(process, "kill").mockImplementation(() => true);
    const file = join(mkdtempSync(join(tmpdir(), "failpoint-")), "fp");
    writeFileSync(file, "index-updater\n");
    installFailpoints(file, pino({ level: "silent" }));

    midBatch("index-updater", batch(["1"]));
    expect(kill).not.toHaveBeenCalled();

    process.emit("SIGUSR2", "SIGUSR2");
    midBatch("clickhouse-sink", batch(["2"]));
    expect(kill).not.toHaveBeenCalled();
    midBatch("index-updater", batch(["7", "8", "9"]));
    expect(kill).toHaveBeenCalledWith(process.pid, "SIGKILL");
    const fired = JSON.parse(readFileSync(`${file}.fired`, "utf8").trim());
    expect(fired).toMatchObject({ part: "index-updater", topic: "events", partition: 4, first: "7", last: "9" });
  });
});
