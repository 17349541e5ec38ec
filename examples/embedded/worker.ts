// A Cloudflare-style Worker with one Durable Object class, written exactly as for Cloudflare.
import { DurableObject } from "cloudflare:workers";

export class Counter extends DurableObject {
  async increment(): Promise<number> {
    const value = ((await this.ctx.storage.get<number>("value")) ?? 0) + 1;
    await this.ctx.storage.put("value", value);
    return value;
  }
}

export default {
  async fetch(request: Request, env: { COUNTER: any }): Promise<Response> {
    const name = new URL(request.url).pathname.slice(1) || "default";
    const value = await env.COUNTER.getByName(name).increment();
    return new Response(`${name}: ${value}\n`);
  },
};
