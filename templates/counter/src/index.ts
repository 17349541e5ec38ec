import { DurableObject } from "cloudflare:workers";

interface Env {
  COUNTER: DurableObjectNamespace<Counter>;
}

/** One counter per name: `GET /<name>` reads it, `POST /<name>` adds one. */
export class Counter extends DurableObject<Env> {
  async increment(): Promise<number> {
    const value = ((await this.ctx.storage.get<number>("value")) ?? 0) + 1;
    await this.ctx.storage.put("value", value);
    return value;
  }

  async get(): Promise<number> {
    return (await this.ctx.storage.get<number>("value")) ?? 0;
  }
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const name = new URL(request.url).pathname.slice(1) || "default";
    const counter = env.COUNTER.getByName(name);
    const value = request.method === "POST" ? await counter.increment() : await counter.get();
    return Response.json({ name, value });
  },
} satisfies ExportedHandler<Env>;
