/** Plain HTTP GETs for tests that talk to tasks or a load balancer's listener. */
import http from 'node:http';

/** GET `path` from host:port (a fresh connection unless `agent` is given); the body trimmed. Times out after 10 s. */
export function httpGet(host: string, port: number, path = '/', agent: http.Agent | false = false): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, path, agent }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: body.trim() }));
      res.on('error', reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
  });
}
