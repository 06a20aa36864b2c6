import { OpenFeature } from '@openfeature/server-sdk';
import { OFREPProvider } from '@openfeature/ofrep-provider';

// An OpenFeature client whose every evaluation asks Headway's OFREP endpoints.
export async function headwayFlags(baseUrl, key) {
  const provider = new OFREPProvider({
    baseUrl,
    headers: [['Authorization', `Bearer ${key}`]],
  });
  await OpenFeature.setProviderAndWait('headway', provider);
  return OpenFeature.getClient('headway');
}
