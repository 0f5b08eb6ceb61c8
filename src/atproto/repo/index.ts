export {
  commitCid,
  decodeCommit,
  encodeCommit,
  encodeUnsignedCommit,
  type SignedCommit,
  signCommit,
  type UnsignedCommit,
  verifyCommit,
  verifyCommitSig,
} from './commit.ts'
export {
  commitSliceBlocks,
  commitSliceCar,
  exportRepoCar,
  exportRepoCarBytes,
  exportRepoCarSince,
  repoBlocks,
  repoBlocksSince,
  repoCar,
} from './export.ts'
export { loadRepoFromCar } from './load.ts'
export { Repo } from './repo.ts'
export {
  type CommitResult,
  formatDataKey,
  parseDataKey,
  type RepoOp,
  type RepoOptions,
  type RepoWrite,
  type WriteAction,
} from './types.ts'
export {
  type CommitProofInput,
  type ProofOp,
  type ProvenRecord,
  type VerifiedRecord,
  type VerifiedRepo,
  type VerifyRepoOptions,
  verifyCommitProof,
  verifyRecordProof,
  verifyRepo,
  verifyRepoCar,
} from './verify.ts'
