/**
 * com.atproto.sync.*: repos as CARs (whole or since a rev), the latest commit,
 * record proofs, blocks, blobs, and the repo listing. All public.
 */
import { type Context, Hono } from 'hono'
import { isCidString, isTid } from '../../atproto/syntax/index.ts'
import { Directory } from '../../directory/directory.ts'
import type { Env } from '../../env.ts'
import { invalidRequest, unwrap } from '../../http/xrpc.ts'
import { agentStub, resolveRepo } from '../agents.ts'
import { getBlob } from './blobs.ts'
import { didCursor, limitParam, recordParams } from './repo.ts'

type C = Context<{ Bindings: Env }>
export const syncRoutes = new Hono<{ Bindings: Env }>()

const CAR = { 'content-type': 'application/vnd.ipld.car' }
const didParam = (c: C) => resolveRepo(c.env, c.req.query('did'))

syncRoutes.get('/xrpc/com.atproto.sync.getRepo', async (c) => {
  const did = await didParam(c)
  const since = c.req.query('since') || undefined
  if (since !== undefined && !isTid(since)) throw invalidRequest('since must be a rev (TID)')
  return new Response(unwrap(await agentStub(c.env, did).exportCar(since)), { headers: CAR })
})

syncRoutes.get('/xrpc/com.atproto.sync.getLatestCommit', async (c) => {
  const head = unwrap(await agentStub(c.env, await didParam(c)).head())
  return c.json({ cid: head.cid, rev: head.rev })
})

syncRoutes.get('/xrpc/com.atproto.sync.getRecord', async (c) => {
  const did = await didParam(c)
  const { collection, rkey } = recordParams(c)
  return new Response(unwrap(await agentStub(c.env, did).recordProof(collection, rkey)), { headers: CAR })
})

syncRoutes.get('/xrpc/com.atproto.sync.getBlocks', async (c) => {
  const did = await didParam(c)
  const cids = c.req.queries('cids') ?? []
  if (cids.length === 0 || cids.length > 1000) throw invalidRequest('cids must name 1 to 1000 blocks')
  return new Response(unwrap(await agentStub(c.env, did).getBlocks(cids)), { headers: CAR })
})

syncRoutes.get('/xrpc/com.atproto.sync.getBlob', getBlob)

syncRoutes.get('/xrpc/com.atproto.sync.listBlobs', async (c) => {
  const did = await didParam(c)
  const cursor = c.req.query('cursor') || undefined
  if (cursor !== undefined && !isCidString(cursor)) throw invalidRequest('Invalid cursor')
  const out = unwrap(
    await agentStub(c.env, did).blobs({ op: 'list', limit: limitParam(c, 1000, 500), cursor }),
  )
  return c.json(out)
})

syncRoutes.get('/xrpc/com.atproto.sync.getRepoStatus', async (c) => {
  const did = await didParam(c)
  const head = unwrap(await agentStub(c.env, did).head())
  const active = head.status === 'active'
  return c.json({ did, active, ...(active ? { rev: head.rev } : { status: head.status }) })
})

syncRoutes.get('/xrpc/com.atproto.sync.listRepos', async (c) => {
  const limit = limitParam(c, 1000, 500)
  const rows = await new Directory(c.env.DB).list(limit, didCursor(c))
  const repos = await Promise.all(
    rows
      .filter((r) => r.status !== 'deleted')
      .map(async (r) => {
        const head = unwrap(await agentStub(c.env, r.did).head())
        const active = head.status === 'active'
        return {
          did: r.did,
          head: head.cid,
          rev: head.rev,
          active,
          ...(active ? {} : { status: head.status }),
        }
      }),
  )
  return c.json({ repos, ...(rows.length === limit ? { cursor: rows.at(-1)!.did } : {}) })
})
