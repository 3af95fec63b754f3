/**
 * How ECS spreads tasks over a capacity provider strategy: the provider with a
 * base gets its first `base` tasks; every task beyond that goes where the
 * running tally is furthest below its weight share (ties: strategy order). A
 * provider with weight 0 gets nothing beyond its base.
 *
 * Placing one task at a time against the counts already running is what lets
 * a service keep its ratio as tasks are replaced.
 */
import type { NormalisedStrategyItem } from '../ecs/run-task.ts';

/**
 * Providers for `n` new tasks, given how many tasks already run on each
 * provider (a service's live tasks; empty for RunTask).
 */
export function splitByStrategy(strategy: NormalisedStrategyItem[], n: number, existing: Record<string, number> = {}): string[] {
  const counts = new Map(strategy.map((s) => [s.capacityProvider as string, existing[s.capacityProvider] ?? 0]));
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const underBase = strategy.find((s) => s.base > 0 && counts.get(s.capacityProvider)! < s.base);
    let pick = underBase;
    if (!pick) {
      let best = Infinity;
      for (const s of strategy) {
        if (s.weight <= 0) continue;
        const beyondBase = Math.max(0, counts.get(s.capacityProvider)! - s.base);
        const load = beyondBase / s.weight;
        if (load < best) {
          best = load;
          pick = s;
        }
      }
    }
    if (!pick) throw new Error('capacity provider strategy has no provider with a weight (validation should have refused it)');
    counts.set(pick.capacityProvider, counts.get(pick.capacityProvider)! + 1);
    out.push(pick.capacityProvider);
  }
  return out;
}

/** The strategy a request runs with: its own, else the cluster default, else none (launch type FARGATE). */
export function effectiveStrategy(
  given: NormalisedStrategyItem[] | undefined,
  launchType: 'FARGATE' | undefined,
  clusterDefault: { capacityProvider: string; weight?: number; base?: number }[],
): NormalisedStrategyItem[] | undefined {
  if (given) return given;
  if (launchType || clusterDefault.length === 0) return undefined;
  return clusterDefault.map((s) => ({ capacityProvider: s.capacityProvider as NormalisedStrategyItem['capacityProvider'], weight: s.weight ?? 0, base: s.base ?? 0 }));
}
