/**
 * Capacity providers and the validated shapes of a task's placement request
 * (the strategy and the awsvpc configuration), as stored on tasks and services.
 */
export const CAPACITY_PROVIDERS = ['FARGATE', 'FARGATE_SPOT'] as const;
export type CapacityProviderName = (typeof CAPACITY_PROVIDERS)[number];

export interface NormalisedStrategyItem {
  capacityProvider: CapacityProviderName;
  base: number;
  weight: number;
}

export interface NormalisedAwsVpcConfiguration {
  subnets: string[];
  securityGroups: string[];
  assignPublicIp: 'ENABLED' | 'DISABLED';
}
