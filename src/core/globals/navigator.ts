/**
 * `navigator` as workerd defines it: libraries detect the Workers runtime by
 * `navigator.userAgent === "Cloudflare-Workers"`, and see one core and English.
 */
export class Navigator {
  get userAgent(): string {
    return "Cloudflare-Workers";
  }

  get hardwareConcurrency(): number {
    return 1;
  }

  get platform(): string {
    return "";
  }

  get language(): string {
    return "en";
  }

  get languages(): string[] {
    return ["en"];
  }

  /** Sends `body` to `url` with a POST in the background; true once queued, as in browsers. */
  sendBeacon(url: string | URL, body?: BodyInit | null): boolean {
    fetch(url, { method: "POST", body: body ?? null }).then(
      (response) => response.body?.cancel(),
      () => {},
    );
    return true;
  }

  get [Symbol.toStringTag](): string {
    return "Navigator";
  }
}
