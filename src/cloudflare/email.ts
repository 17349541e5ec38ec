/**
 * `cloudflare:email`: importable, so apps and libraries (the agents SDK) that import it at top
 * level load; Stead has no Email Routing, so making a message throws `API_UNSUPPORTED`.
 */
import { unsupportedClass } from "./unsupported.ts";

const REASON = "sending and receiving email needs Cloudflare Email Routing (send_email bindings)";

export const EmailMessage = unsupportedClass("EmailMessage", "cloudflare:email", REASON);
