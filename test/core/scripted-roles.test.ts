/**
 * The offline scripted model's plays (src/agent/scripted-roles.ts), step by
 * step as a turn would feed them tool results, and the prompt an inbox item
 * makes (src/agent/wake.ts `inboxPrompt`).
 */
import { describe, expect, it } from 'vitest'
import { nextStep, roleOf, type ScriptInput, type ToolOutcome } from '../../src/agent/scripted-roles.ts'
import { inboxPrompt } from '../../src/agent/wake.ts'

const PLANNER = 'did:cf:planner'
const RESEARCHER = 'did:cf:researcher'
const WRITER = 'did:cf:writer'
const ASKER = 'did:cf:asker'

const ok = (name: string, text: string, details: Record<string, unknown> = {}): ToolOutcome => ({
  name,
  text,
  details,
  isError: false,
})
const failed = (name: string, text: string): ToolOutcome => ({ name, text, details: {}, isError: true })

/** Play a script: feed each call the given outcome, return every step taken. */
function play(input: ScriptInput, outcomes: ToolOutcome[]) {
  const steps = []
  for (let i = 0; i <= outcomes.length; i++) {
    const step = nextStep(input, outcomes.slice(0, i))
    steps.push(step)
    if ('say' in step) break
    expect(step.call, `step ${i + 1}`).toBe(outcomes[i]?.name)
  }
  return steps
}

const agents = (...list: { did: string; handle: string }[]) => ok('list_agents', 'agents', { agents: list })

describe('roleOf', () => {
  it('is the first role among the skills, in any case', () => {
    expect(roleOf(['Planner'])).toBe('planner')
    expect(roleOf(['french', 'WRITER', 'researcher'])).toBe('writer')
    expect(roleOf(['researcher'])).toBe('researcher')
    expect(roleOf(['researchers', 'copywriter'])).toBeNull()
    expect(roleOf([])).toBeNull()
    expect(roleOf(undefined)).toBeNull()
  })
})

describe('the planner', () => {
  const goal: ScriptInput = { role: 'planner', prompt: 'Goal: a brief on tides' }
  const researchReq = `at://${PLANNER}/agent.comms.request/3research`
  const writeReq = `at://${PLANNER}/agent.comms.request/3write`
  const response = `at://${RESEARCHER}/agent.comms.response/3done`
  const findings = `at://${RESEARCHER}/agent.memory.note/3find`

  it('on a goal: finds a researcher and asks for the research', () => {
    const steps = play(goal, [
      agents({ did: RESEARCHER, handle: 'res.test' }, { did: 'did:cf:other', handle: 'other.test' }),
      ok('request_task', 'requested', { uri: researchReq }),
    ])
    expect(steps).toEqual([
      { call: 'list_agents', args: { skill: 'researcher' } },
      { call: 'request_task', args: { to: RESEARCHER, task: 'Research: a brief on tides' } },
      { say: `Asked res.test to research "a brief on tides" (${researchReq}).` },
    ])
  })

  it('on a goal with no researcher: says so', () => {
    expect(play(goal, [agents()]).at(-1)).toEqual({ say: 'There is no researcher on the network to ask.' })
    // A handle-less listing names the agent by its did.
    expect(play(goal, [agents({ did: RESEARCHER, handle: '' }), ok('request_task', '', {})]).at(-1)).toEqual({
      say: `Asked ${RESEARCHER} to research "a brief on tides" ().`,
    })
  })

  it('on an instruction rather than a goal: follows the generic rules', () => {
    expect(nextStep({ role: 'planner', prompt: 'Remember that tides are lunar' }, [])).toEqual({
      call: 'remember',
      args: { text: 'tides are lunar' },
    })
    expect(nextStep({ role: 'planner', prompt: 'When is the launch?' }, [])).toEqual({
      call: 'recall',
      args: { query: 'When is the launch?' },
    })
  })

  const researchDone: ScriptInput = {
    role: 'planner',
    prompt: 'Response from …',
    item: {
      uri: response,
      collection: 'agent.comms.response',
      sender: RESEARCHER,
      record: {
        request: { uri: researchReq, cid: 'bafyreq' },
        state: 'completed',
        result: { kind: 'text', text: 'Tides follow the moon.' },
        artifacts: [{ uri: findings, cid: 'bafyfind' }],
      },
    },
  }

  it('on completed research: asks a writer, then hands the research over', () => {
    const steps = play(researchDone, [
      ok('get_record', 'the request', { value: { task: 'Research: a brief on tides' } }),
      agents({ did: WRITER, handle: 'wri.test' }),
      ok('request_task', 'requested', { uri: writeReq }),
      ok('handoff', 'handed off', {}),
    ])
    expect(steps).toEqual([
      { call: 'get_record', args: { uri: researchReq } },
      { call: 'list_agents', args: { skill: 'writer' } },
      { call: 'request_task', args: { to: WRITER, task: 'Write: a brief on tides', context: [response] } },
      {
        call: 'handoff',
        args: {
          to: WRITER,
          summary:
            'The research on "a brief on tides" is done: Tides follow the moon.\nWrite it up and complete the task.',
          task: writeReq,
          context: [researchReq, response, findings],
          reason: 'Writing is the writer’s part.',
        },
      },
      { say: 'Handed "a brief on tides" to wri.test with the research.' },
    ])
  })

  it('on completed research with no writer: says so', () => {
    const steps = play(researchDone, [ok('get_record', '', { value: { task: 'Research: tides' } }), agents()])
    expect(steps.at(-1)).toEqual({ say: 'There is no writer on the network to hand off to.' })
  })

  it('on a completed writing task: remembers the goal done', () => {
    const input: ScriptInput = {
      role: 'planner',
      prompt: 'Response from …',
      item: {
        uri: `at://${WRITER}/agent.comms.response/3w`,
        collection: 'agent.comms.response',
        sender: WRITER,
        record: { request: { uri: writeReq }, state: 'completed', result: { text: 'A brief on tides.' } },
      },
    }
    const steps = play(input, [
      ok('get_record', '', { value: { task: 'Write: a brief on tides' } }),
      ok('remember', 'remembered', { uri: `at://${PLANNER}/agent.memory.note/3g` }),
    ])
    expect(steps).toEqual([
      { call: 'get_record', args: { uri: writeReq } },
      {
        call: 'remember',
        args: { text: "Goal done: a brief on tides. The writer's result: A brief on tides." },
      },
      { say: 'Goal done: "a brief on tides".' },
    ])
  })

  it('on a completed task it did not plan: only notes it', () => {
    expect(play(researchDone, [ok('get_record', '', { value: { task: 'sum 2 and 3' } })]).at(-1)).toEqual({
      say: `Noted: ${researchReq} is completed.`,
    })
  })

  it('on a working (or stateless) response: notes it and calls nothing', () => {
    const working = { ...researchDone.item!, record: { request: { uri: researchReq }, state: 'working' } }
    expect(nextStep({ ...researchDone, item: working }, [])).toEqual({
      say: `Noted: ${researchReq} is working.`,
    })
    const bare = { ...researchDone.item!, record: { request: { uri: researchReq } } }
    expect(nextStep({ ...researchDone, item: bare }, [])).toEqual({
      say: `Noted: ${researchReq} is updated.`,
    })
  })
})

describe('the researcher', () => {
  const req = `at://${PLANNER}/agent.comms.request/3r`
  const note = `at://${RESEARCHER}/agent.memory.note/3n`
  const input: ScriptInput = {
    role: 'researcher',
    prompt: 'Task request …',
    item: {
      uri: req,
      collection: 'agent.comms.request',
      sender: PLANNER,
      record: { task: 'Research: tides' },
    },
  }

  it('takes the task, recalls, remembers its findings and completes with them', () => {
    const findings =
      'Findings on "tides": on record: the moon pulls; spring tides. To settle: scope, audience and sources. ' +
      '(The offline scripted model consulted no outside sources.)'
    const steps = play(input, [
      ok('update_task', 'working'),
      ok('recall', 'the moon pulls\nspring tides'),
      ok('remember', 'remembered', { uri: note }),
      ok('update_task', 'completed'),
    ])
    expect(steps).toEqual([
      { call: 'update_task', args: { request: req, state: 'working' } },
      { call: 'recall', args: { query: 'tides' } },
      { call: 'remember', args: { text: findings } },
      {
        call: 'update_task',
        args: { request: req, state: 'completed', result: findings, artifacts: [note] },
      },
      { say: `Researched "tides" and completed ${req}.` },
    ])
  })

  it('with nothing on record, and on a task not phrased as research', () => {
    const plain = { ...input, item: { ...input.item!, record: { task: 'count the tides' } } }
    const steps = play(plain, [
      ok('update_task', 'working'),
      ok('recall', 'nothing found'),
      ok('remember', 'remembered', {}),
      ok('update_task', 'completed'),
    ])
    expect(steps[1]).toEqual({ call: 'recall', args: { query: 'count the tides' } })
    expect(steps[2]).toMatchObject({ args: { text: expect.stringContaining('on record: nothing yet.') } })
    expect(steps[3]).toMatchObject({ args: { artifacts: [] } })
  })
})

describe('the writer', () => {
  const writeReq = `at://${PLANNER}/agent.comms.request/3w`
  const researchReq = `at://${PLANNER}/agent.comms.request/3r`
  const response = `at://${RESEARCHER}/agent.comms.response/3d`

  it('on a request: takes it and waits for the handoff', () => {
    const input: ScriptInput = {
      role: 'writer',
      prompt: 'Task request …',
      item: {
        uri: writeReq,
        collection: 'agent.comms.request',
        sender: PLANNER,
        record: { task: 'Write: tides' },
      },
    }
    expect(play(input, [ok('update_task', 'moved to working')])).toEqual([
      { call: 'update_task', args: { request: writeReq, state: 'working' } },
      { say: 'Done: moved to working' },
    ])
  })

  it('on a handoff: reads the task and each context record, then completes the task from them', () => {
    const input: ScriptInput = {
      role: 'writer',
      prompt: 'Handoff …',
      item: {
        uri: `at://${PLANNER}/agent.comms.handoff/3h`,
        collection: 'agent.comms.handoff',
        sender: PLANNER,
        record: { task: { uri: writeReq }, context: [{ uri: researchReq }, { uri: response }] },
      },
    }
    const steps = play(input, [
      ok('get_record', '', { value: { task: 'Write: tides' } }),
      ok('get_record', '', { value: { task: 'Research: tides' } }),
      ok('get_record', '', { value: { state: 'completed', result: { text: 'The moon pulls.' } } }),
      ok('update_task', 'completed'),
    ])
    expect(steps).toEqual([
      { call: 'get_record', args: { uri: writeReq } },
      { call: 'get_record', args: { uri: researchReq } },
      { call: 'get_record', args: { uri: response } },
      {
        call: 'update_task',
        args: {
          request: writeReq,
          state: 'completed',
          result: `tides\n\nThe moon pulls.\n\nSources (each proven against its signed repo): ${researchReq} ${response}`,
          artifacts: [researchReq, response],
        },
      },
      { say: `Wrote up ${writeReq} from 2 verified records.` },
    ])
  })

  it('reads at most five context records, and says so when a handoff names no task', () => {
    const context = Array.from({ length: 8 }, (_, i) => ({ uri: `at://${PLANNER}/agent.memory.note/${i}` }))
    const input: ScriptInput = {
      role: 'writer',
      prompt: 'Handoff …',
      item: {
        uri: `at://${PLANNER}/agent.comms.handoff/3h`,
        collection: 'agent.comms.handoff',
        sender: PLANNER,
        record: { task: { uri: writeReq }, context },
      },
    }
    const reads = Array.from({ length: 6 }, () => ok('get_record', '', { value: {} }))
    const steps = play(input, [...reads, ok('update_task', 'completed')])
    expect(steps.filter((s) => 'call' in s && s.call === 'get_record')).toHaveLength(6)
    expect(steps[6]).toMatchObject({
      args: {
        result: expect.stringContaining('No research came with the handoff.'),
        artifacts: context.slice(0, 5).map((c) => c.uri),
      },
    })
    const noTask = { ...input, item: { ...input.item!, record: { summary: 'over to you' } } }
    expect(nextStep(noTask, [])).toEqual({ say: 'Read the handoff; it names no task to complete.' })
  })
})

describe('anyone', () => {
  const plain = (prompt: string): ScriptInput => ({ role: null, prompt })

  it('follows the prompt rules: remember, tell, a question, anything else', () => {
    expect(play(plain('Remember that the demo is on Friday'), [ok('remember', 'remembered at://x')])).toEqual(
      [{ call: 'remember', args: { text: 'the demo is on Friday' } }, { say: 'Done: remembered at://x' }],
    )
    expect(nextStep(plain('Tell @bob.test that lunch at noon'), [])).toEqual({
      call: 'send_message',
      args: { to: '@bob.test', text: 'lunch at noon' },
    })
    expect(nextStep(plain('Tell @bob: lunch at noon'), [])).toEqual({
      call: 'send_message',
      args: { to: '@bob', text: 'lunch at noon' },
    })
    expect(nextStep(plain('send did:cf:abc: on my way'), [])).toEqual({
      call: 'send_message',
      args: { to: 'did:cf:abc', text: 'on my way' },
    })
    expect(nextStep(plain('message did:cf:x'), [])).toEqual({
      call: 'send_message',
      args: { to: 'did:cf:x', text: 'hello' },
    })
    expect(play(plain('Where are the keys'), [ok('recall', 'under the mat')])).toEqual([
      { call: 'recall', args: { query: 'Where are the keys' } },
      { say: 'From memory: under the mat' },
    ])
    expect(nextStep(plain('  Good morning  '), [])).toEqual({ say: 'Noted: Good morning' })
  })

  const message = (text: string): ScriptInput => ({
    role: 'researcher',
    prompt: `Message from ${ASKER} (…): ${text}`,
    item: {
      uri: `at://${ASKER}/agent.comms.message/3m`,
      collection: 'agent.comms.message',
      sender: ASKER,
      record: { content: { kind: 'text', text } },
    },
  })

  it('answers a question in a message from memory, back to its sender', () => {
    expect(
      play(message('What is the launch date?'), [
        ok('recall', 'The launch is on May 2\nIt moved once'),
        ok('send_message', 'sent'),
      ]),
    ).toEqual([
      { call: 'recall', args: { query: 'What is the launch date?' } },
      { call: 'send_message', args: { to: ASKER, text: 'Answer: The launch is on May 2; It moved once' } },
      { say: `Answered ${ASKER}.` },
    ])
    expect(
      play(message('when do we ship'), [ok('recall', 'nothing found'), ok('send_message', 'sent')])[1],
    ).toEqual({ call: 'send_message', args: { to: ASKER, text: 'Answer: I have nothing on that.' } })
  })

  it('never answers an answer, nor a message that asks nothing: no ping-pong', () => {
    expect(nextStep(message('Answer: What is the launch date?'), [])).toEqual({
      say: 'Noted: Answer: What is the launch date?',
    })
    expect(nextStep(message('Answer: I have nothing on that.'), [])).toEqual({
      say: 'Noted: Answer: I have nothing on that.',
    })
    expect(nextStep(message('The launch moved to May.'), [])).toEqual({
      say: 'Noted: The launch moved to May.',
    })
  })

  it('notes what its role has no play for', () => {
    const input: ScriptInput = {
      role: null,
      prompt: 'Broadcast from did:cf:x on #news (at://…): hi\nsecond line',
      item: {
        uri: 'at://did:cf:x/agent.comms.broadcast/3b',
        collection: 'agent.comms.broadcast',
        sender: 'did:cf:x',
        record: {},
      },
    }
    expect(nextStep(input, [])).toEqual({ say: 'Noted: Broadcast from did:cf:x on #news (at://…): hi' })
    expect(nextStep(input, [ok('recall', 'r')])).toEqual({ say: 'Done: r' })
    // A request to someone who is not a researcher or writer.
    const req = {
      ...input,
      role: 'planner' as const,
      item: { ...input.item!, collection: 'agent.comms.request' },
    }
    expect(nextStep(req, [])).toEqual({ say: 'Noted: Broadcast from did:cf:x on #news (at://…): hi' })
  })

  it('ends the turn on a failed tool, whatever the play', () => {
    expect(nextStep(plain('Remember that x'), [failed('remember', 'Tool remember not found')])).toEqual({
      say: 'The remember tool failed: Tool remember not found',
    })
    expect(
      nextStep({ role: 'planner', prompt: 'Goal: tides' }, [
        agents({ did: RESEARCHER, handle: 'r' }),
        failed('request_task', 'boom'),
      ]),
    ).toEqual({ say: 'The request_task tool failed: boom' })
    expect(nextStep(message('What now?'), [failed('recall', 'search is down')])).toEqual({
      say: 'The recall tool failed: search is down',
    })
  })
})

describe('inboxPrompt', () => {
  const base = { uri: 'at://did:cf:s/c/3k', cid: 'bafyitem', sender: 'did:cf:s' }

  it('renders a message by its content kind', () => {
    const msg = (content: unknown) =>
      inboxPrompt({ ...base, collection: 'agent.comms.message', record: { content } })
    expect(msg({ kind: 'text', text: 'hello' })).toBe('Message from did:cf:s (at://did:cf:s/c/3k): hello')
    expect(msg({ kind: 'json', schema: 'x', data: { sum: 5 } })).toBe(
      'Message from did:cf:s (at://did:cf:s/c/3k): {"sum":5}',
    )
    expect(msg({ kind: 'ref', uri: 'at://did:cf:o/n/1', cid: 'c' })).toBe(
      'Message from did:cf:s (at://did:cf:s/c/3k): (a link to at://did:cf:o/n/1)',
    )
    expect(msg({ kind: 'blob', blob: { ref: 'x' } })).toBe(
      'Message from did:cf:s (at://did:cf:s/c/3k): (a file)',
    )
    expect(msg(undefined)).toBe('Message from did:cf:s (at://did:cf:s/c/3k): ')
  })

  it('renders a broadcast with its topic, if any', () => {
    const content = { text: 'all hands' }
    expect(
      inboxPrompt({ ...base, collection: 'agent.comms.broadcast', record: { content, topic: 'ops' } }),
    ).toBe('Broadcast from did:cf:s on #ops (at://did:cf:s/c/3k): all hands')
    expect(inboxPrompt({ ...base, collection: 'agent.comms.broadcast', record: { content } })).toBe(
      'Broadcast from did:cf:s (at://did:cf:s/c/3k): all hands',
    )
  })

  it('renders a request with its context refs', () => {
    const record = {
      task: 'sum 2 and 3',
      context: [{ uri: 'at://a/n/1', cid: 'x' }, { uri: 'at://b/n/2' }, {}],
    }
    expect(inboxPrompt({ ...base, collection: 'agent.comms.request', record })).toBe(
      'Task request from did:cf:s (at://did:cf:s/c/3k): sum 2 and 3\nContext: at://a/n/1 at://b/n/2',
    )
    expect(inboxPrompt({ ...base, collection: 'agent.comms.request', record: { task: 'go' } })).toBe(
      'Task request from did:cf:s (at://did:cf:s/c/3k): go',
    )
  })

  it('renders a response with its result, artifacts and error', () => {
    const record = {
      request: { uri: 'at://p/agent.comms.request/1', cid: 'x' },
      state: 'completed',
      result: { text: 'five' },
      artifacts: [{ uri: 'at://s/n/1' }, { uri: 'at://s/n/2' }],
    }
    expect(inboxPrompt({ ...base, collection: 'agent.comms.response', record })).toBe(
      [
        'Response from did:cf:s on task at://p/agent.comms.request/1: completed',
        'Result: five',
        'Artifacts: at://s/n/1 at://s/n/2',
        '(at://did:cf:s/c/3k)',
      ].join('\n'),
    )
    const failedRecord = {
      request: { uri: 'at://p/r/1' },
      state: 'failed',
      error: { code: 'x', message: 'no' },
    }
    expect(inboxPrompt({ ...base, collection: 'agent.comms.response', record: failedRecord })).toBe(
      'Response from did:cf:s on task at://p/r/1: failed\nError: no\n(at://did:cf:s/c/3k)',
    )
    expect(inboxPrompt({ ...base, collection: 'agent.comms.response', record: {} })).toBe(
      'Response from did:cf:s on task ?: ?\n(at://did:cf:s/c/3k)',
    )
  })

  it('renders a handoff with its task, context and reason', () => {
    const record = {
      summary: 'over to you',
      task: { uri: 'at://p/agent.comms.request/1', cid: 'x' },
      context: [{ uri: 'at://p/n/1' }, { uri: 'at://r/n/2' }],
      reason: 'writing is yours',
    }
    expect(inboxPrompt({ ...base, collection: 'agent.comms.handoff', record })).toBe(
      [
        'Handoff from did:cf:s (at://did:cf:s/c/3k): over to you',
        'Task: at://p/agent.comms.request/1',
        'Context (each checked against its signed repo): at://p/n/1 at://r/n/2',
        'Reason: writing is yours',
      ].join('\n'),
    )
    expect(inboxPrompt({ ...base, collection: 'agent.comms.handoff', record: { summary: 's' } })).toBe(
      'Handoff from did:cf:s (at://did:cf:s/c/3k): s',
    )
  })

  it('truncates long texts, and names any other record by its uri', () => {
    const long = 'x'.repeat(5000)
    const cut = `${'x'.repeat(4000)}… (truncated)`
    expect(
      inboxPrompt({ ...base, collection: 'agent.comms.message', record: { content: { text: long } } }),
    ).toBe(`Message from did:cf:s (at://did:cf:s/c/3k): ${cut}`)
    expect(inboxPrompt({ ...base, collection: 'agent.comms.request', record: { task: long } })).toBe(
      `Task request from did:cf:s (at://did:cf:s/c/3k): ${cut}`,
    )
    const data = { blob: 'y'.repeat(5000) }
    expect(
      inboxPrompt({ ...base, collection: 'agent.comms.broadcast', record: { content: { data } } }).length,
    ).toBe('Broadcast from did:cf:s (at://did:cf:s/c/3k): '.length + cut.length)
    const handoff = inboxPrompt({
      ...base,
      collection: 'agent.comms.handoff',
      record: { summary: long, reason: long },
    })
    expect(handoff).toBe(`Handoff from did:cf:s (at://did:cf:s/c/3k): ${cut}\nReason: ${cut}`)
    const error = inboxPrompt({
      ...base,
      collection: 'agent.comms.response',
      record: { state: 'failed', error: { message: long } },
    })
    expect(error).toContain(`Error: ${cut}\n`)
    const whole = 'x'.repeat(4000)
    expect(
      inboxPrompt({ ...base, collection: 'agent.comms.message', record: { content: { text: whole } } }),
    ).toBe(`Message from did:cf:s (at://did:cf:s/c/3k): ${whole}`)
    expect(inboxPrompt({ ...base, collection: 'agent.memory.note', record: { text: 'hi' } })).toBe(
      'A agent.memory.note record from did:cf:s: at://did:cf:s/c/3k',
    )
  })
})
