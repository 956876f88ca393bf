/** An entry that passed validation and signature verification, rebuilt canonically. */
export interface PreparedEntry {
  readonly kind: string;
  readonly apiVersion: string;
  /** Canonical body bytes (RFC 8785 JCS of the rebuilt entry): the Merkle leaf. */
  readonly body: Buffer;
  /** SHA-256(0x00 || body). */
  readonly leafHash: Buffer;
  /** Search-index keys, lowercased (Rekor v1 OpenAPI `SearchIndex`). */
  readonly indexKeys: readonly string[];
}
