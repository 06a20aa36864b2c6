// The browser side of tests/clients: the docs' startFlags() plus a runner for the shared cases,
// bundled by esbuild into dist/conformance.js and loaded by a page on another origin.
import { OpenFeature, ProviderEvents, type EvaluationContext } from '@openfeature/web-sdk';
import { startFlags } from './headway';

type Case = { name: string; flag: string; type: string; default: any; context: EvaluationContext };

const getters: Record<string, string> = {
  boolean: 'getBooleanDetails',
  string: 'getStringDetails',
  number: 'getNumberDetails',
  object: 'getObjectDetails',
};

let flags: any;
const changes: string[][] = [];

async function start(baseUrl: string, key: string, pollInterval: number) {
  flags = await startFlags(baseUrl, key, {}, pollInterval);
  flags.addHandler(ProviderEvents.ConfigurationChanged, (e: any) => changes.push(e?.flagsChanged ?? []));
}

async function run(cases: Case[]) {
  const results = [];
  for (const c of cases) {
    await OpenFeature.setContext(c.context);
    const d = flags[getters[c.type]](c.flag, c.default);
    results.push({
      name: c.name,
      value: d.value,
      variant: d.variant ?? null,
      reason: d.reason ?? null,
      errorCode: d.errorCode ?? null,
    });
  }
  return results;
}

(window as any).headway = {
  start,
  run,
  setContext: (context: EvaluationContext) => OpenFeature.setContext(context),
  boolean: (flag: string, fallback: boolean) => flags.getBooleanValue(flag, fallback),
  changes,
};
