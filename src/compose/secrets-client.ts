/** The Secrets Manager calls `skiff compose` makes, signed like any AWS client (AWS JSON 1.1). */
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { signedFetch } from '../auth/signed-fetch.ts';
import type { SecretsApi } from './compose-ops.ts';

export function secretsManagerClient(endpoint: string, region: string): SecretsApi {
  const call = async (op: string, input: Record<string, unknown>): Promise<{ ok: true; body: Record<string, unknown> } | { ok: false; type: string; message: string }> => {
    const res = await signedFetch(new URL(endpoint + '/'), {
      method: 'POST',
      body: JSON.stringify(input),
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `secretsmanager.${op}` },
      service: 'secretsmanager',
      region,
      credentials: defaultProvider(),
    });
    const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
    if (res.ok) return { ok: true, body };
    return { ok: false, type: String(body.__type ?? res.status).split('#').pop()!, message: String(body.message ?? body.Message ?? res.statusText) };
  };
  const fail = (op: string, r: { type: string; message: string }) => new Error(`secretsmanager ${op}: ${r.type}: ${r.message}`);
  return {
    async put(name, value, tags) {
      const created = await call('CreateSecret', { Name: name, SecretString: value, Tags: tags });
      if (created.ok) return String(created.body.ARN);
      if (created.type !== 'ResourceExistsException') throw fail('CreateSecret', created);
      const put = await call('PutSecretValue', { SecretId: name, SecretString: value });
      if (!put.ok) throw fail('PutSecretValue', put);
      return String(put.body.ARN);
    },
    async delete(name) {
      const r = await call('DeleteSecret', { SecretId: name, ForceDeleteWithoutRecovery: true });
      if (r.ok) return true;
      if (r.type === 'ResourceNotFoundException') return false;
      throw fail('DeleteSecret', r);
    },
  };
}
