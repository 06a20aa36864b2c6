// Runs tests/clients/cases.py's cases (read as JSON from the file named by argv[2]) through the
// Node OpenFeature SDK and the OFREP provider, exactly as docs/sdks.md sets them up, and prints
// what the SDK reported for each case as JSON.
import { readFileSync } from 'node:fs';
import { OpenFeature } from '@openfeature/server-sdk';
import { headwayFlags } from './headway.mjs';

const { baseUrl, key, cases } = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const flags = await headwayFlags(baseUrl, key);
const getters = {
  boolean: 'getBooleanDetails',
  string: 'getStringDetails',
  number: 'getNumberDetails',
  object: 'getObjectDetails',
};
const results = [];
for (const c of cases) {
  const d = await flags[getters[c.type]](c.flag, c.default, c.context);
  results.push({
    name: c.name,
    value: d.value,
    variant: d.variant ?? null,
    reason: d.reason ?? null,
    errorCode: d.errorCode ?? null,
  });
}
await OpenFeature.close();
process.stdout.write(JSON.stringify(results));
