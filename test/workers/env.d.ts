// The worker module's default export, as `cloudflare:workers` exposes it to tests.
declare namespace Cloudflare {
  interface Exports {
    default: Fetcher;
  }
}
