/**
 * RFC 6962 roots and proofs served from stored tiles, in three steps: plan which perfect subtrees
 * (nodes) the answer needs, fetch the tiles holding them in one readTiles call, fold.
 *
 * In a tree of n leaves every RFC 6962 subtree is either perfect (2^h leaves starting at a multiple
 * of 2^h: node (h, k)) or lies on the right edge, ending at n. Perfect nodes are read directly from
 * the tiles' stored interior nodes; a right-edge subtree's hash is folded from the perfect nodes
 * covering it. A proof touches at most one right-edge subtree, so a proof costs O(log n) node reads,
 * no leaf walks, and only a few hashes.
 */
import { VellumError } from '../errors';
import { TILE_HEIGHT, type TileKey } from '../tiles/tiles';
import { EMPTY_ROOT, HASH_SIZE, nodePairHashInto } from './hash';
import { checkStoredTile, nodeOffset, type StoredTile, type TileSource } from './tile-store';

/** The perfect subtree over leaves [index * 2^height, (index + 1) * 2^height). */
export interface NodeId {
  readonly height: number;
  readonly index: number;
}

/**
 * One hash of an answer: a single perfect node, or the MTH of a right-edge range given as the
 * perfect nodes covering it, leftmost (largest) first.
 */
export type ProofElement = readonly NodeId[];

/** 2^0 .. 2^53, exact doubles; indices and sizes never go through 32-bit operators. */
const POW2: readonly number[] = Array.from({ length: 54 }, (_, h) => Math.pow(2, h));

function requireSize(name: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new VellumError('INVALID_ARGUMENT', `${name} must be a safe integer >= ${min}, got ${value}`);
  }
}

/**
 * The perfect nodes covering [start, end), largest first. Callers pass ranges whose start is a
 * multiple of the largest power of two not above end - start, which is what makes them aligned.
 */
function coverRange(start: number, end: number): NodeId[] {
  const nodes: NodeId[] = [];
  let height = 0;
  while (POW2[height + 1] <= end - start) height++;
  let position = start;
  let aligned = start >= 0;
  for (; position < end && height >= 0; height--) {
    if (position + POW2[height] <= end) {
      const index = position / POW2[height];
      aligned &&= Number.isInteger(index);
      nodes.push({ height, index });
      position += POW2[height];
    }
  }
  if (position !== end || !aligned) {
    throw new VellumError('INTERNAL', `cannot cover leaves [${start}, ${end}) with perfect subtrees`);
  }
  return nodes;
}

/**
 * The siblings on the way from node (height, index) up to the root of a tree of `size` leaves,
 * lowest first. A sibling starting at or beyond `size` does not exist in the RFC 6962 tree (the
 * node is promoted unchanged); one straddling `size` is a right-edge subtree.
 */
function siblingsToRoot(height: number, index: number, size: number): ProofElement[] {
  const elements: ProofElement[] = [];
  let h = height;
  let k = index;
  while (k > 0 || POW2[h] < size) {
    const sibling = k % 2 === 0 ? k + 1 : k - 1;
    const start = sibling * POW2[h];
    if (start < size) {
      const end = start + POW2[h];
      elements.push(end <= size ? [{ height: h, index: sibling }] : coverRange(start, size));
    }
    k = Math.floor(k / 2);
    h++;
  }
  return elements;
}

/** The perfect nodes whose fold is MTH(D[0:size]); empty for size 0. */
export function planRoot(size: number): ProofElement {
  requireSize('tree size', size, 0);
  return coverRange(0, size);
}

/** RFC 6962 PATH(index, D[0:size]), leaf to root. */
export function planInclusion(index: number, size: number): ProofElement[] {
  requireSize('tree size', size, 1);
  requireSize('leaf index', index, 0);
  if (index >= size) {
    throw new VellumError('INVALID_ARGUMENT', `leaf index ${index} is not below tree size ${size}`);
  }
  return siblingsToRoot(0, index, size);
}

/**
 * RFC 6962 PROOF(size1, D[0:size2]). SUBPROOF descends to the largest perfect node ending at size1
 * (height = trailing zero bits of size1), emits it unless it is the whole old tree (size1 a power of
 * two, whose root the verifier already has), then climbs exactly like an inclusion proof of it.
 */
export function planConsistency(size1: number, size2: number): ProofElement[] {
  requireSize('first size', size1, 1);
  requireSize('second size', size2, 1);
  if (size1 > size2) {
    throw new VellumError('INVALID_ARGUMENT', `first size ${size1} is greater than second size ${size2}`);
  }
  if (size1 === size2) return [];
  let height = 0;
  while ((size1 / POW2[height + 1]) % 1 === 0) height++;
  const index = size1 / POW2[height] - 1;
  const elements: ProofElement[] = index === 0 ? [] : [[{ height, index }]];
  for (const element of siblingsToRoot(height, index, size2)) elements.push(element);
  return elements;
}

/** Where node (height, index) sits: tile, sublevel, position in the sublevel, tile width needed. */
export function locateNode(node: NodeId): {
  readonly tile: TileKey;
  readonly sublevel: number;
  readonly position: number;
  readonly minWidth: number;
} {
  const level = Math.floor(node.height / TILE_HEIGHT);
  const sublevel = node.height - level * TILE_HEIGHT;
  const perTile = POW2[TILE_HEIGHT - sublevel];
  const tileIndex = Math.floor(node.index / perTile);
  const position = node.index - tileIndex * perTile;
  return { tile: { level, index: tileIndex }, sublevel, position, minWidth: (position + 1) * POW2[sublevel] };
}

/** Which tiles a set of elements needs (each at least minWidths[i] wide), and where each node sits. */
interface TilePlan {
  readonly keys: TileKey[];
  readonly minWidths: number[];
  /** Per node, in element order: which key holds it, and where inside that tile. */
  readonly nodeKey: number[];
  readonly nodeSublevel: number[];
  readonly nodePosition: number[];
}

function planTiles(elements: readonly ProofElement[]): TilePlan {
  const plan: TilePlan = { keys: [], minWidths: [], nodeKey: [], nodeSublevel: [], nodePosition: [] };
  const { keys, minWidths } = plan;
  for (const element of elements) {
    for (const node of element) {
      const where = locateNode(node);
      let k = 0;
      while (k < keys.length && (keys[k].level !== where.tile.level || keys[k].index !== where.tile.index))
        k++;
      if (k === keys.length) {
        keys.push(where.tile);
        minWidths.push(where.minWidth);
      } else if (minWidths[k] < where.minWidth) {
        minWidths[k] = where.minWidth;
      }
      plan.nodeKey.push(k);
      plan.nodeSublevel.push(where.sublevel);
      plan.nodePosition.push(where.position);
    }
  }
  return plan;
}

/** Folds each element to one hash from the fetched tiles (in plan.keys order). */
function foldElements(
  elements: readonly ProofElement[],
  plan: TilePlan,
  fetched: ReadonlyArray<StoredTile | undefined>,
): Buffer[] {
  const { keys, minWidths, nodeKey, nodeSublevel, nodePosition } = plan;
  const tiles: StoredTile[] = keys.map((key, i) => checkStoredTile(fetched[i], key, minWidths[i]));
  const nodeStart = (i: number): number =>
    (nodeOffset(tiles[nodeKey[i]].width, nodeSublevel[i]) + nodePosition[i]) * HASH_SIZE;

  const out = Buffer.allocUnsafe(elements.length * HASH_SIZE);
  const hashes = new Array<Buffer>(elements.length);
  let end = 0;
  for (let e = 0; e < elements.length; e++) {
    const first = end;
    end += elements[e].length;
    const target = e * HASH_SIZE;
    // Right to left: the accumulator starts as the smallest (rightmost) node and lives in `out`.
    const last = end - 1;
    const lastNodes = tiles[nodeKey[last]].nodes;
    for (let b = 0, from = nodeStart(last); b < HASH_SIZE; b++) out[target + b] = lastNodes[from + b];
    for (let i = last - 1; i >= first; i--) {
      nodePairHashInto(tiles[nodeKey[i]].nodes, nodeStart(i), out, target, out, target);
    }
    hashes[e] = out.subarray(target, target + HASH_SIZE);
  }
  return hashes;
}

/**
 * Fetches every node the elements name with one readTiles call and folds each element to one hash.
 * The hashes are views into one fresh buffer, never into stored tiles, so callers may keep or
 * mutate them freely.
 */
export async function resolveElements(
  source: TileSource,
  elements: readonly ProofElement[],
): Promise<Buffer[]> {
  if (elements.length === 0) return [];
  const plan = planTiles(elements);
  return foldElements(elements, plan, await source.readTiles(plan.keys));
}

/** Tiles already in memory, looked up without I/O (e.g. the tiles a batch just wrote). */
export interface TileLookup {
  get(level: number, index: number): StoredTile | undefined;
}

/**
 * RFC 6962 inclusion proofs of several leaves of one tree, from tiles in memory. The sequencer
 * answers a committed batch with these: every tile on the path of a leaf the batch appended was
 * rewritten by that batch, so the batch's own tiles hold every node the proofs need.
 */
export function inclusionProofsFrom(tiles: TileLookup, indices: readonly number[], size: number): Buffer[][] {
  return indices.map((index) => {
    const elements = planInclusion(index, size);
    if (elements.length === 0) return [];
    const plan = planTiles(elements);
    return foldElements(
      elements,
      plan,
      plan.keys.map((k) => tiles.get(k.level, k.index)),
    );
  });
}

/** MTH(D[0:size]) from stored tiles; EMPTY_ROOT for size 0. */
export async function rootAt(source: TileSource, size: number): Promise<Buffer> {
  const plan = planRoot(size);
  if (plan.length === 0) return Buffer.from(EMPTY_ROOT);
  const [root] = await resolveElements(source, [plan]);
  return root;
}

/** RFC 6962 inclusion proof (PATH) of leaf `index` in the tree of `size` leaves, leaf to root. */
export async function inclusionProof(source: TileSource, index: number, size: number): Promise<Buffer[]> {
  const plan = planInclusion(index, size);
  return plan.length === 0 ? [] : resolveElements(source, plan);
}

/** RFC 6962 consistency proof (PROOF) from size1 to size2; [] when they are equal. */
export async function consistencyProof(source: TileSource, size1: number, size2: number): Promise<Buffer[]> {
  const plan = planConsistency(size1, size2);
  return plan.length === 0 ? [] : resolveElements(source, plan);
}
