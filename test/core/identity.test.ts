import { describe, expect, it } from 'vitest'
import { AtprotoError } from '../../src/atproto/errors.ts'
import { generateKeypair } from '../../src/atproto/keys.ts'
import { atprotoKey, auditEntry, verifyAuditLog } from '../../src/identity/audit.ts'
import { didDocument } from '../../src/identity/did-document.ts'
import {
  didForGenesis,
  genesisOperation,
  nextOperation,
  signOperation,
} from '../../src/identity/operation.ts'

async function identity() {
  const rotation = await generateKeypair('p256')
  const signing = await generateKeypair('p256')
  const genesis = await signOperation(
    genesisOperation({
      signingKey: signing.did,
      rotationKeys: [rotation.did],
      handle: 'alice.agents.test',
      pdsEndpoint: 'http://127.0.0.1:8787',
    }),
    rotation,
  )
  const did = await didForGenesis(genesis)
  return { rotation, signing, genesis, did }
}

describe('did:cf', () => {
  it('derives the DID from the signed genesis op, as did:plc does', async () => {
    const { genesis, did } = await identity()
    expect(did).toMatch(/^did:cf:[a-z2-7]{24}$/)
    expect(await didForGenesis(genesis)).toBe(did)
    expect(await verifyAuditLog(did, [await auditEntry(did, genesis)])).toEqual(genesis)
  })

  it('describes the agent in its DID document', async () => {
    const { genesis, did, signing } = await identity()
    const doc = didDocument(did, genesis)
    expect(doc.id).toBe(did)
    expect(doc.alsoKnownAs).toEqual(['at://alice.agents.test'])
    expect(doc.verificationMethod[0]).toMatchObject({ id: `${did}#atproto`, type: 'Multikey' })
    expect(`did:key:${doc.verificationMethod[0]!.publicKeyMultibase}`).toBe(signing.did)
    expect(doc.service[0]).toEqual({
      id: '#atproto_pds',
      type: 'AtprotoPersonalDataServer',
      serviceEndpoint: 'http://127.0.0.1:8787',
    })
  })

  it('verifies a rotation chained to the genesis op, and the new key is in force', async () => {
    const { rotation, genesis, did } = await identity()
    const newKey = await generateKeypair('p256')
    const rotated = await signOperation(
      await nextOperation(genesis, { verificationMethods: { atproto: newKey.did } }),
      rotation,
    )
    const log = [await auditEntry(did, genesis), await auditEntry(did, rotated)]
    expect(atprotoKey(await verifyAuditLog(did, log))).toBe(newKey.did)
  })

  it('rejects forged, reordered and tampered logs', async () => {
    const { rotation, genesis, did } = await identity()
    const stranger = await generateKeypair('p256')
    const forged = await signOperation(
      await nextOperation(genesis, { verificationMethods: { atproto: stranger.did } }),
      stranger,
    )
    await expect(
      verifyAuditLog(did, [await auditEntry(did, genesis), await auditEntry(did, forged)]),
    ).rejects.toThrow(AtprotoError)

    const good = await signOperation(
      await nextOperation(genesis, { alsoKnownAs: ['at://bob.agents.test'] }),
      rotation,
    )
    await expect(verifyAuditLog(did, [await auditEntry(did, good)])).rejects.toThrow(AtprotoError)

    const tampered = { ...good, alsoKnownAs: ['at://mallory.agents.test'] }
    await expect(
      verifyAuditLog(did, [await auditEntry(did, genesis), await auditEntry(did, tampered)]),
    ).rejects.toThrow(/not signed/)

    const other = await identity()
    await expect(verifyAuditLog(did, [await auditEntry(did, other.genesis)])).rejects.toThrow(/derive/)
  })
})

describe('did:cf against the reference did:plc library', () => {
  it('validates our log with the same derivation and signatures (did:cf ↔ did:plc suffix)', async () => {
    const plc = await import('@did-plc/lib')
    for (const type of ['p256', 'secp256k1'] as const) {
      const rotation = await generateKeypair(type)
      const signing = await generateKeypair(type)
      const genesis = await signOperation(
        genesisOperation({
          signingKey: signing.did,
          rotationKeys: [rotation.did],
          handle: 'carol.agents.test',
          pdsEndpoint: 'http://127.0.0.1:8787',
        }),
        rotation,
      )
      const did = await didForGenesis(genesis)
      const rotated = await signOperation(
        await nextOperation(genesis, { verificationMethods: { atproto: (await generateKeypair(type)).did } }),
        rotation,
      )
      const plcDid = `did:plc:${did.slice('did:cf:'.length)}`
      expect(await plc.didForCreateOp(genesis as never)).toBe(plcDid)
      const data = await plc.validateOperationLog(plcDid, [genesis, rotated] as never)
      expect(data?.verificationMethods.atproto).toBe(rotated.verificationMethods.atproto)
    }
  })
})
