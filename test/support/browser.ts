import { type Browser, chromium } from "playwright-core";

/** Debian's Chromium (installed by scripts/ensure-chromium.sh); no browser is downloaded. */
export const CHROMIUM = "/usr/bin/chromium";

/** Launches headless Chromium; `await using` closes it. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}
