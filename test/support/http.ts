/** Plain HTTP GETs for tests that talk to tasks or a load balancer's listener. */
import http from 'node:http';
import type { ContainerDefinition } from '@aws-sdk/client-ecs';

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

/**
 * A busybox container "web" serving "[<label> ]<hostname>" on 8080 (the hostname names the
 * task: ip-10-x-y-z...), at / at once and at /cgi-bin/slow after 1 s (a request a stop
 * without draining would cut). An init as PID 1 forwards SIGTERM, so httpd (and any
 * request it serves) ends the moment the task is stopped.
 */
export function slowHttpdContainer(image: string, label?: string): ContainerDefinition {
  const text = label === undefined ? '$(hostname)' : `${label} $(hostname)`;
  const script = ['#!/bin/sh', 'sleep 1', 'printf "Content-Type: text/plain\\r\\n\\r\\n"', `echo ${text}`];
  const slow = `printf '%s\\n' ${script.map((l) => `'${l}'`).join(' ')} > /www/cgi-bin/slow && chmod +x /www/cgi-bin/slow`;
  const serve = `mkdir -p /www/cgi-bin && echo "${text}" > /www/index.html && ${slow} && exec httpd -f -p 8080 -h /www`;
  return { name: 'web', image, stopTimeout: 2, command: ['sh', '-c', serve], portMappings: [{ containerPort: 8080 }], linuxParameters: { initProcessEnabled: true } };
}
