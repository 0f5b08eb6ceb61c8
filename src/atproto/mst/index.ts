export { sha256 } from '../sha256.ts'
export {
  ArenaBlockStore,
  type BlockStore,
  bytesEqual,
  getBlock,
  MemoryBlockStore,
  type WritableBlockStore,
} from './blocks.ts'
export { decodeNode, encodeNode, type NodeData } from './codec.ts'
export { diffMst, type MstDiff } from './diff.ts'
export {
  assertValidMstKey,
  commonPrefixLength,
  isValidMstKey,
  keyHeight,
  leadingZerosOnHash,
  MAX_MST_KEY_LENGTH,
} from './key.ts'
export { type ListOptions, Mst, type MstBlock, type MstEntry, type MstLoadOptions } from './mst.ts'
export { MstNode } from './node.ts'
