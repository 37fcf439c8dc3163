/** Time values as ClickHouse's text formats take them, shared by every writer of rows. */

/** Epoch ms → ClickHouse DateTime64(3) text in UTC ("YYYY-MM-DD hh:mm:ss.mmm"). */
export function chDateTime64(ms: number): string {
  return new Date(ms).toISOString().replace("T", " ").replace("Z", "");
}

/** ClickHouse DateTime64(3) text in UTC (as chDateTime64 prints it) → epoch ms. */
export function msFromChDateTime64(text: string): number {
  return Date.parse(`${text.replace(" ", "T")}Z`);
}
