/** Types shared by the per-kind modules and the dispatcher in index.ts. */

export interface PrepareOptions {
  /**
   * Prepare a proposed entry for a search (`POST /api/v1/log/entries/retrieve`) rather than for
   * insertion: Rekor then skips its `Insertable()` checks, so a dsse entry given in its stored
   * (canonical) form, or an intoto entry without its payload, still yields a canonical body to
   * look up. Signatures are still verified wherever the input carries them.
   */
  readonly forSearch?: boolean;
}

export interface KindResult {
  /** The rebuilt entry object; index.ts serializes it with JCS. */
  readonly body: object;
  /** Raw index keys; index.ts lowercases and de-duplicates them. */
  readonly indexKeys: readonly string[];
}
