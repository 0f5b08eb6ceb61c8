/**
 * The demo as users run it (`npm run demo`, i.e. scripts/demo.mjs), against a
 * real `wrangler dev` network on the offline scripted model: a planner, a
 * researcher and a writer coordinate through their repos. The test checks
 * what the demo says against the network itself: the records each agent
 * wrote, the task states, and a handoff whose refs were verified.
 */
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Network, startNetwork } from './network.ts'

const DEMO = join(import.meta.dirname, '..', '..', 'scripts', 'demo.mjs')

let net: Network
beforeAll(async () => {
  net = await startNetwork()
})
afterAll(async () => {
  await net?.stop()
})

function demo(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [DEMO, '--network', net.url, ...args], {
      // The token by environment, as scripts/demo.mjs hands it to the CLI.
      env: { ...process.env, NO_COLOR: '1', MURMUR_ADMIN_TOKEN: net.adminToken },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`the demo did not finish in 90 s\n${stdout}\n${stderr}`))
    }, 90_000)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}

async function get(method: string, params: Record<string, string | undefined>) {
  const query = new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)]))
  const res = await fetch(`${net.url}/xrpc/${method}?${query}`, {
    headers: { authorization: `Bearer ${net.adminToken}` },
  })
  const body = (await res.json()) as Record<string, any>
  expect(res.status, `${method}: ${JSON.stringify(body)}`).toBe(200)
  return body
}

async function records(repo: string | undefined, collection: string) {
  const body = await get('com.atproto.repo.listRecords', { repo, collection, limit: '100' })
  return body.records as { uri: string; cid: string; value: Record<string, any> }[]
}

describe('npm run demo', () => {
  it('plays out on the scripted model, shown live, every repo verified', async () => {
    const run = await demo([])
    expect(run.code, run.stderr).toBe(0)
    const out = run.stdout
    // Live from the firehose, in order, and labelled with the model that ran.
    const order = [
      'asks: Research:',
      'task working',
      'task completed',
      'asks: Write:',
      'hands off',
      'Goal done',
    ]
    let at = -1
    for (const step of order) {
      const i = out.indexOf(step, at + 1)
      expect(i, `"${step}" after position ${at} in:\n${out}`).toBeGreaterThan(at)
      at = i
    }
    expect(out).toContain('ends a turn (offline scripted model)')
    expect(out).toMatch(/task\s+completed\s+researcher: Research:/)
    expect(out).toMatch(/task\s+completed\s+writer: Write:/)
    for (const role of ['planner', 'researcher', 'writer'])
      expect(out).toMatch(new RegExp(`repo\\s+${role}\\s+verified`))
    const secs = Number(/done in ([\d.]+) s/.exec(out)?.[1])
    expect(secs).toBeLessThan(60)
  })

  it('records the coordination in the repos: requests, responses, a verified handoff (run again, reusing the agents)', async () => {
    const run = await demo(['--json', '--goal', 'a note on key rotation'])
    expect(run.code, run.stderr).toBe(0)
    const summary = JSON.parse(run.stdout.slice(run.stdout.indexOf('{')))
    const { planner, researcher, writer } = summary.agents as Record<string, string>
    expect(summary.exports.map((e: any) => [e.role, e.verified])).toEqual([
      ['planner', true],
      ['researcher', true],
      ['writer', true],
    ])

    // The planner's two requests of this run, and the states the task index gives them.
    const requests = (await records(planner, 'agent.comms.request')).filter((r) =>
      String(r.value.task).endsWith('a note on key rotation'),
    )
    const research = requests.find((r) => r.value.task.startsWith('Research: '))!
    const write = requests.find((r) => r.value.task.startsWith('Write: '))!
    expect(research.value.assignee).toBe(researcher)
    expect(write.value.assignee).toBe(writer)
    const researchTask = await get('agent.comms.getTask', { uri: research.uri })
    expect(researchTask).toMatchObject({ state: 'completed', worker: researcher })
    expect(researchTask.history.map((h: any) => h.state)).toEqual(['working', 'completed'])
    const writeTask = await get('agent.comms.getTask', { uri: write.uri })
    expect(writeTask).toMatchObject({ state: 'completed', worker: writer })
    expect(summary.tasks.map((t: any) => [t.uri, t.state])).toEqual(
      expect.arrayContaining([
        [research.uri, 'completed'],
        [write.uri, 'completed'],
      ]),
    )

    // The researcher's completion cites its findings note at its exact version.
    const responses = await records(researcher, 'agent.comms.response')
    const done = responses.find((r) => r.value.request.uri === research.uri && r.value.state === 'completed')!
    expect(done.value.result.text).toContain('Findings on "a note on key rotation"')
    const [finding] = done.value.artifacts
    const note = await get('com.atproto.repo.getRecord', {
      repo: researcher,
      collection: 'agent.memory.note',
      rkey: finding.uri.split('/').pop(),
    })
    expect(note.cid).toBe(finding.cid)

    // The handoff: the write task, and context refs that match the cited records' versions.
    const handoff = (await records(planner, 'agent.comms.handoff')).find(
      (h) => h.value.task?.uri === write.uri,
    )!
    expect(handoff.uri).toBe(summary.handoff)
    expect(handoff.value.recipient).toBe(writer)
    expect(handoff.value.task.cid).toBe(write.cid)
    const cited = handoff.value.context.map((c: any) => c.uri)
    expect(cited).toEqual([research.uri, done.uri, finding.uri])
    for (const ref of handoff.value.context) {
      const [, , repo, collection, rkey] = ref.uri.split('/')
      expect((await get('com.atproto.repo.getRecord', { repo, collection, rkey })).cid).toBe(ref.cid)
    }
    // The writer accepted it as verified (a handoff with a bad ref is rejected, never filed).
    const inbox = await get('agent.comms.listInbox', {
      repo: writer,
      collection: 'agent.comms.handoff',
      limit: '100',
    })
    const item = inbox.items.find((i: any) => i.uri === handoff.uri)
    expect(item).toMatchObject({ cid: handoff.cid, sender: planner, verified: true })

    // The writer read each ref, proven, and completed its task with the research in the result.
    const written = (await records(writer, 'agent.comms.response')).find(
      (r) => r.value.request.uri === write.uri && r.value.state === 'completed',
    )!
    expect(written.value.request.cid).toBe(write.cid)
    expect(written.value.result.text).toContain('Findings on "a note on key rotation"')
    const turnNotes = (await records(writer, 'agent.memory.note')).filter((n) =>
      n.value.tags?.includes('turn'),
    )
    const handoffTurn = turnNotes.find((n) =>
      n.value.text.startsWith(`Asked: Handoff from ${planner} (${handoff.uri})`),
    )!
    for (const uri of [write.uri, ...cited])
      expect(handoffTurn.value.text).toContain(`get_record {"uri":"${uri}"}`)
    expect(handoffTurn.value.text).toContain('Model: offline scripted model')

    // The planner closed the loop in its memory.
    const plannerNotes = await records(planner, 'agent.memory.note')
    expect(plannerNotes.some((n) => n.value.text.startsWith('Goal done: a note on key rotation'))).toBe(true)
  })
})
