/** The DID document a did:cf operation describes, in the shape atproto clients read. */
import { didKeyToMultikey } from '../atproto/keys.ts'
import type { SignedOperation } from './operation.ts'

export interface DidDocument {
  '@context': string[]
  id: string
  alsoKnownAs: string[]
  verificationMethod: Array<{ id: string; type: 'Multikey'; controller: string; publicKeyMultibase: string }>
  service: Array<{ id: string; type: string; serviceEndpoint: string }>
}

export function didDocument(did: string, op: SignedOperation): DidDocument {
  return {
    '@context': [
      'https://www.w3.org/ns/did/v1',
      'https://w3id.org/security/multikey/v1',
      'https://w3id.org/security/suites/secp256k1-2019/v1',
    ],
    id: did,
    alsoKnownAs: op.alsoKnownAs,
    verificationMethod: Object.entries(op.verificationMethods).map(([name, key]) => ({
      id: `${did}#${name}`,
      type: 'Multikey',
      controller: did,
      publicKeyMultibase: didKeyToMultikey(key),
    })),
    service: Object.entries(op.services).map(([name, s]) => ({
      id: `#${name}`,
      type: s.type,
      serviceEndpoint: s.endpoint,
    })),
  }
}
