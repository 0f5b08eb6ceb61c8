// Stub for LLM SDKs we never call inside the Worker. pi-ai only imports them from lazily-loaded
// provider modules (register-builtins.js dynamic import()), so they are only touched if a model with
// that `api` is actually used -> then this throws a clear error instead of bloating the bundle.
const fail = (name) => {
  throw new Error(`SDK stubbed out in this Worker build (${name})`)
}
const handler = {
  get: (_t, p) =>
    p === '__esModule'
      ? true
      : new Proxy(() => {}, {
          construct: () => fail(String(p)),
          apply: () => fail(String(p)),
          get: () => undefined,
        }),
}
const ns = new Proxy({}, handler)
export default ns
export const Mistral = ns.Mistral
export const GoogleGenAI = ns.GoogleGenAI
export const ResourceScope = {}
export const ThinkingLevel = {}
export const FinishReason = {}
export const FunctionCallingConfigMode = {}
export const AzureOpenAI = ns.AzureOpenAI
