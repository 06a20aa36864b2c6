import { OpenFeature, type EvaluationContext } from '@openfeature/web-sdk';
import { OFREPWebProvider } from '@openfeature/ofrep-web-provider';

// Flags for this page: evaluated by Headway for `context`, refreshed every `pollInterval` ms.
export async function startFlags(
  baseUrl: string,
  clientKey: string,
  context: EvaluationContext,
  pollInterval = 30_000,
) {
  await OpenFeature.setContext(context);
  await OpenFeature.setProviderAndWait(
    new OFREPWebProvider({
      baseUrl,
      headers: [['Authorization', `Bearer ${clientKey}`]],
      pollInterval,
      cacheMode: 'network-first',
    }),
  );
  return OpenFeature.getClient();
}
