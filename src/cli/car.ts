/**
 * `murmur export` (an agent's repo as a CAR file, streamed from
 * `com.atproto.sync.getRepo`) and `murmur verify` (a CAR checked with the
 * repo's own code: every block's hash, the MST, and the commit's signature
 * against the key in the DID's verified operation log).
 */
import { createWriteStream } from 'node:fs'
import { readFile, rename, rm } from 'node:fs/promises'
import { parseCar } from '../atproto/car.ts'
import { cidToString } from '../atproto/cid.ts'
import { AtprotoError } from '../atproto/errors.ts'
import { parseDidKeyString } from '../atproto/keys.ts'
import { getBlock, MemoryBlockStore } from '../atproto/mst/blocks.ts'
import { decodeCommit, verifyRepoCar } from '../atproto/repo/index.ts'
import { identityFromAuditLog } from '../identity/resolve.ts'
import { xrpcError } from './client.ts'
import { type Context, printJson } from './context.ts'
import { CliError, usage } from './errors.ts'
import { bytes, table } from './format.ts'

export async function exportRepo(ctx: Context, agent: string, file: string): Promise<void> {
  const did = await ctx.client.resolve(agent)
  const url = ctx.client.endpoint('/xrpc/com.atproto.sync.getRepo', { did })
  const res = await ctx.client.fetch(url, {}, null)
  if (!res.ok || !res.body) throw await xrpcError('com.atproto.sync.getRepo', res)
  const partial = `${file}.partial`
  const progress = process.stderr.isTTY
  let written = 0
  let shown = 0
  try {
    const out = createWriteStream(partial)
    const closed = new Promise<void>((resolve, reject) => {
      out.on('close', resolve)
      out.on('error', reject)
    })
    for await (const chunk of res.body) {
      if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()))
      written += chunk.byteLength
      if (progress && Date.now() - shown > 100) {
        shown = Date.now()
        process.stderr.write(`\r${bytes(written)} `)
      }
    }
    out.end()
    await closed
    await rename(partial, file)
  } catch (err) {
    await rm(partial, { force: true })
    if (err instanceof CliError) throw err
    const why = err instanceof Error ? err.message : String(err)
    throw new CliError(`export to ${file} failed after ${written} bytes: ${why}`, 1, { cause: err })
  } finally {
    if (progress && shown) process.stderr.write('\r\u001b[K')
  }
  if (ctx.json) return printJson(ctx, { did, file, bytes: written })
  ctx.out(`wrote ${file}: ${bytes(written)} (${written} bytes), the repo of ${did}`)
}

/** The DID a repo CAR's commit claims (not yet verified). */
function claimedDid(car: Uint8Array): string {
  const { roots, blocks } = parseCar(car)
  const root = roots[0]
  if (!root) throw new AtprotoError('InvalidCar', 'the CAR has no root')
  return decodeCommit(getBlock(new MemoryBlockStore(blocks), cidToString(root))).did
}

/** The DID's current signing key, from its operation log on the network, verified offline. */
async function signingKey(ctx: Context, did: string): Promise<string> {
  const url = ctx.client.endpoint(`/did/${encodeURIComponent(did)}/log/audit`)
  const log = await ctx.client.json<unknown>('getAuditLog', await ctx.client.fetch(url))
  try {
    return (await identityFromAuditLog(did, log)).signingKey
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err)
    throw new CliError(`the operation log of ${did} does not verify: ${why}`, 1, { cause: err })
  }
}

export interface VerifyOptions {
  /** The DID the repo must be; by default the one its commit names. */
  did?: string
  /** A did:key to check the signature with, instead of asking the network. */
  key?: string
}

export async function verifyCar(ctx: Context, file: string, opts: VerifyOptions): Promise<void> {
  if (opts.did !== undefined && !opts.did.startsWith('did:'))
    throw usage(`--did must be a DID, got ${opts.did}`)
  if (opts.key !== undefined) {
    try {
      parseDidKeyString(opts.key)
    } catch {
      throw usage(`--key must be a did:key, got ${opts.key}`)
    }
  }
  let car: Uint8Array
  try {
    car = await readFile(file)
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${(err as Error).message}`, 1, { cause: err })
  }
  const failed = (err: unknown) => {
    const why =
      err instanceof AtprotoError
        ? `${err.code}: ${err.message}`
        : err instanceof Error
          ? err.message
          : String(err)
    return new CliError(`verification failed: ${file}: ${why}`, 1, { cause: err })
  }
  let did = opts.did
  if (did === undefined) {
    try {
      did = claimedDid(car)
    } catch (err) {
      throw failed(err)
    }
  }
  const key = opts.key ?? (await signingKey(ctx, did))
  let repo: Awaited<ReturnType<typeof verifyRepoCar>>
  try {
    repo = await verifyRepoCar(car, did, key)
  } catch (err) {
    throw failed(err)
  }
  const counts = new Map<string, number>()
  for (const r of repo.records) counts.set(r.collection, (counts.get(r.collection) ?? 0) + 1)
  const collections = Object.fromEntries([...counts].sort(([a], [b]) => (a < b ? -1 : 1)))
  if (ctx.json)
    return printJson(ctx, {
      verified: true,
      did: repo.did,
      commit: cidToString(repo.commitCid),
      rev: repo.rev,
      signingKey: key,
      records: repo.records.length,
      collections,
    })
  const rows = [
    ['did', repo.did],
    ['commit', cidToString(repo.commitCid)],
    ['rev', repo.rev],
    ['signed by', key],
    ['records', String(repo.records.length)],
    ...Object.entries(collections).map(([c, n]) => [`  ${c}`, String(n)]),
  ]
  ctx.out(table(rows))
  ctx.out(ctx.paint('green', 'verified'))
}
