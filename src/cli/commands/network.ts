/** Network commands: `subnets`. */
import { skiffFetch } from '../client.ts';
import { render } from '../render.ts';
import type { CommandModule } from '../context.ts';

interface SubnetsResponse {
  subnets: { subnetId: string; vpcId: string; cidrBlock: string; availabilityZone: string; defaultForAz: boolean; availableIpAddressCount: number }[];
}

export const networkCommands: CommandModule = ({ program, globals, format }) => {
  program
    .command('subnets')
    .description('list the VPC subnets tasks can be placed in')
    .action(async () => {
      const data = (await (await skiffFetch(globals(), '/skiff/v1/subnets')).json()) as SubnetsResponse;
      render(format(), data, () => ({
        columns: ['SUBNET', 'VPC', 'CIDR', 'ZONE', 'DEFAULT', 'FREE IPS'],
        rows: data.subnets.map((s) => [s.subnetId, s.vpcId, s.cidrBlock, s.availabilityZone, s.defaultForAz ? 'yes' : 'no', s.availableIpAddressCount]),
      }));
    });
};
