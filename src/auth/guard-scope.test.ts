import { test } from 'node:test';
import assert from 'node:assert/strict';
import { auditResources, checkScope } from './guard.ts';
import { SigV4Error } from './sigv4.ts';

function refused(fn: () => void, re: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof SigV4Error);
    assert.equal(e.kind, 'signature');
    assert.match(e.message, re);
    return true;
  });
}

test("checkScope: the scope must name the server's region and the API's service", () => {
  checkScope({ region: 'us-east-1', service: 'ecs' }, 'us-east-1', 'ecs');
  checkScope({ region: 'eu-west-1', service: 'ecs' }, undefined, undefined); // nothing to check against
  refused(() => checkScope({ region: 'eu-west-1', service: 'ecs' }, 'us-east-1', 'ecs'), /^Credential should be scoped to a valid region\..*'us-east-1'.*'eu-west-1'/);
  refused(() => checkScope({ region: 'us-east-1', service: 'ecs' }, 'us-east-1', 'ec2'), /^Credential should be scoped to correct service: 'ec2'\.$/);
});

test('an audit row names every resource up to ten, then the first ten and how many more', () => {
  const arns = Array.from({ length: 12 }, (_, i) => `arn:aws:ecs:us-east-1:000000000000:task/c/${i}`);
  assert.equal(auditResources(arns.slice(0, 10)), arns.slice(0, 10).join(' '));
  assert.equal(auditResources(arns), `${arns.slice(0, 10).join(' ')} (+2 more)`);
});
