import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TaskDefinition } from '@aws-sdk/client-ecs';
import { checkAgainstTaskDefinition, readLoadBalancers, requestedDeregistrationDelay, requestedHealthCheck, requestedListenerPorts } from './validate.ts';

const TG = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef';
const def: TaskDefinition = {
  family: 'web',
  revision: 3,
  containerDefinitions: [
    { name: 'app', image: 'x', portMappings: [{ containerPort: 8080 }, { containerPort: 53, protocol: 'udp' }] },
    { name: 'side', image: 'y' },
  ],
};
const invalid = (fn: () => unknown, re: RegExp) =>
  assert.throws(fn, (e: Error) => {
    assert.equal(e.name, 'InvalidParameterException');
    assert.match(e.message, re);
    return true;
  });

test('a target group or a load balancer name, a container and its port', () => {
  assert.deepEqual(readLoadBalancers([{ targetGroupArn: TG, containerName: 'app', containerPort: 8080 }]), [{ targetGroupArn: TG, containerName: 'app', containerPort: 8080 }]);
  assert.deepEqual(readLoadBalancers([{ loadBalancerName: 'web-lb', containerName: 'app', containerPort: 8080 }]), [{ loadBalancerName: 'web-lb', containerName: 'app', containerPort: 8080 }]);
  assert.deepEqual(readLoadBalancers(undefined), []);
  assert.deepEqual(readLoadBalancers([]), []);
});

test('bad entries say what to fix', () => {
  invalid(() => readLoadBalancers({}), /must be a list/);
  invalid(() => readLoadBalancers([{ containerName: 'app', containerPort: 8080 }]), /must name a target group/);
  invalid(() => readLoadBalancers([{ targetGroupArn: TG, loadBalancerName: 'x', containerName: 'app', containerPort: 8080 }]), /not both/);
  invalid(() => readLoadBalancers([{ targetGroupArn: 'arn:aws:ecs:us-east-1:1:cluster/x', containerName: 'app', containerPort: 8080 }]), /not a target group ARN/);
  invalid(() => readLoadBalancers([{ loadBalancerName: '-bad-', containerName: 'app', containerPort: 8080 }]), /letters, digits and hyphens/);
  invalid(() => readLoadBalancers([{ targetGroupArn: TG, containerPort: 8080 }]), /containerName is required/);
  invalid(() => readLoadBalancers([{ targetGroupArn: TG, containerName: 'app', containerPort: 0 }]), /containerPort must be a port number/);
  invalid(() => readLoadBalancers([{ targetGroupArn: TG, containerName: 'app', containerPort: 8080 }, { targetGroupArn: TG, containerName: 'app', containerPort: 8080 }]), /repeats target group/);
  invalid(() => readLoadBalancers(Array.from({ length: 6 }, (_, i) => ({ loadBalancerName: `lb${i}`, containerName: 'app', containerPort: 8080 }))), /at most 5/);
});

test('the container must exist in the task definition and map the port over TCP', () => {
  checkAgainstTaskDefinition([{ targetGroupArn: TG, containerName: 'app', containerPort: 8080 }], def);
  invalid(() => checkAgainstTaskDefinition([{ targetGroupArn: TG, containerName: 'nope', containerPort: 8080 }], def), /container nope does not exist in the task definition web:3 \(its containers: app, side\)/);
  invalid(() => checkAgainstTaskDefinition([{ targetGroupArn: TG, containerName: 'app', containerPort: 9090 }], def), /does not have a container port 9090 defined \(it maps 8080\)/);
  invalid(() => checkAgainstTaskDefinition([{ targetGroupArn: TG, containerName: 'app', containerPort: 53 }], def), /container port 53/);
  invalid(() => checkAgainstTaskDefinition([{ targetGroupArn: TG, containerName: 'side', containerPort: 80 }], def), /no TCP portMappings/);
});

test('listener ports and the deregistration delay from the service tags', () => {
  assert.deepEqual(requestedListenerPorts([], 2), [undefined, undefined]);
  assert.deepEqual(requestedListenerPorts([{ key: 'skiff:loadBalancerPort', value: '8081, 8082' }], 2), [8081, 8082]);
  invalid(() => requestedListenerPorts([{ key: 'skiff:loadBalancerPort', value: '8081' }], 2), /lists 1 port\(s\) but the service has 2/);
  invalid(() => requestedListenerPorts([{ key: 'skiff:loadBalancerPort', value: '70000' }], 1), /1\.\.65535/);
  invalid(() => requestedListenerPorts([{ key: 'skiff:loadBalancerPort', value: '81,81' }], 2), /repeats a port/);
  assert.equal(requestedDeregistrationDelay([]), undefined);
  assert.equal(requestedDeregistrationDelay([{ key: 'skiff:deregistrationDelaySeconds', value: '1.5' }]), 1.5);
  invalid(() => requestedDeregistrationDelay([{ key: 'skiff:deregistrationDelaySeconds', value: '-1' }]), /0 to 3600/);
});

test('requestedHealthCheck: always on with ALB defaults (GET /), tags override, bounds, matcher', () => {
  const tags = (o: Record<string, string>) => Object.entries(o).map(([key, value]) => ({ key, value }));
  assert.deepEqual(requestedHealthCheck([]), { path: '/', intervalSeconds: 30, timeoutSeconds: 5, healthyThreshold: 5, unhealthyThreshold: 2, matcher: '200' });
  assert.equal(requestedHealthCheck(tags({ 'skiff:healthyThresholdCount': '3' })).healthyThreshold, 3);
  assert.deepEqual(requestedHealthCheck(tags({ 'skiff:healthCheckPath': '/health' })), {
    path: '/health', intervalSeconds: 30, timeoutSeconds: 5, healthyThreshold: 5, unhealthyThreshold: 2, matcher: '200',
  });
  assert.deepEqual(
    requestedHealthCheck(tags({ 'skiff:healthCheckPath': '/h', 'skiff:healthCheckIntervalSeconds': '1', 'skiff:healthyThresholdCount': '2', 'skiff:healthCheckMatcher': '200-299' })),
    { path: '/h', intervalSeconds: 1, timeoutSeconds: 1, healthyThreshold: 2, unhealthyThreshold: 2, matcher: '200-299' },
  );
  invalid(() => requestedHealthCheck(tags({ 'skiff:healthCheckPath': 'health' })), /must be a URL path starting with \//);
  invalid(() => requestedHealthCheck(tags({ 'skiff:healthCheckPath': '/', 'skiff:unhealthyThresholdCount': '1' })), /skiff:unhealthyThresholdCount must be a whole number from 2 to 10; got "1"/);
  invalid(() => requestedHealthCheck(tags({ 'skiff:healthCheckPath': '/', 'skiff:healthCheckIntervalSeconds': '10', 'skiff:healthCheckTimeoutSeconds': '10' })), /must be less than/);
  invalid(() => requestedHealthCheck(tags({ 'skiff:healthCheckPath': '/', 'skiff:healthCheckMatcher': '200-600' })), /HTTP codes from 200 to 499/);
  invalid(() => requestedHealthCheck(tags({ 'skiff:healthCheckPath': '/', 'skiff:healthCheckMatcher': 'ok' })), /HTTP codes/);
});
