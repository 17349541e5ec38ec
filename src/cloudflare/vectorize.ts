/**
 * `cloudflare:vectorize`: the option values an app passes to a Vectorize binding. Stead has no
 * Vectorize binding (docs/compatibility.md); these are only names, so they are provided as-is.
 */

/** Embedding models whose dimensions Vectorize knows. */
export const KnownModel = {
  "openai/text-embedding-ada-002": "openai/text-embedding-ada-002",
  "cohere/embed-multilingual-v2.0": "cohere/embed-multilingual-v2.0",
  "@cf/baai/bge-small-en-v1.5": "@cf/baai/bge-small-en-v1.5",
  "@cf/baai/bge-base-en-v1.5": "@cf/baai/bge-base-en-v1.5",
  "@cf/baai/bge-large-en-v1.5": "@cf/baai/bge-large-en-v1.5",
} as const;

/** How an index measures distance. */
export const DistanceMetric = {
  EUCLIDEAN: "euclidean",
  COSINE: "cosine",
  DOT_PRODUCT: "dot-product",
} as const;

/** How much metadata a query returns. */
export const MetadataRetrievalLevel = { ALL: "all", INDEXED: "indexed", NONE: "none" } as const;
