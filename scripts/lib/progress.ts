/**
 * Progress of a long step (seeding, bulk loading) on stderr, drawn by cli-progress:
 * `[seed] label [####........] 40% 400/1000 812/s ETA 1s`. On a terminal the line redraws in
 * place; otherwise (CI, a log file) a line is printed every 2 s and at the end.
 */
import { SingleBar } from "cli-progress";

/**
 * cli-progress redraws from a timer until the bar is stopped. A step that throws never reaches
 * its total, so its bar is never stopped: the timer must not keep the process alive.
 */
class StepBar extends SingleBar {
  override render(): void {
    super.render();
    (this as unknown as { timer: NodeJS.Timeout | null }).timer?.unref();
  }
}

/**
 * Starts a bar for `total` items at the first report; returns the function to report how many
 * are done. The bar ends (with a newline) when done reaches total.
 */
export function progress(
  label: string,
  total: number,
  stream: NodeJS.WritableStream = process.stderr,
): (done: number) => void {
  const t0 = Date.now();
  const bar = new StepBar({
    format: `[seed] ${label.padEnd(8)} [{bar}] {percentage}% {value}/{total} {rate}/s ETA {eta}s`,
    barsize: 20,
    barCompleteChar: "#",
    barIncompleteChar: ".",
    stream,
    fps: 4,
    hideCursor: false,
    noTTYOutput: true,
    // Without a terminal every redraw already ends its line; "clearing" is then a no-op that
    // saves the blank line cli-progress would add at the end. On a terminal the last line stays.
    clearOnComplete: !(stream as { isTTY?: boolean }).isTTY,
  });
  let started = false;
  return (done: number) => {
    const rate = Math.round(done / Math.max(0.001, (Date.now() - t0) / 1000));
    if (!started) {
      started = true;
      bar.start(total, done, { rate });
    } else {
      bar.update(done, { rate });
    }
    if (done >= total) bar.stop();
  };
}
