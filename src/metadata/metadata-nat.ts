/**
 * Sends tasks' requests for the metadata address (169.254.170.2:80) to the
 * metadata server: an nftables table of its own, `ip <name>`, with a nat
 * prerouting chain that `redirect`s TCP to 169.254.170.2:80 arriving on one of
 * this server's bridges to the server's port on that bridge's own address (the
 * subnet gateway, which each task already routes 169.254.170.2 through). No
 * source NAT: the server sees the task's own address, which is how it knows who
 * is asking.
 *
 * Only bridges added with `allowBridge` are redirected, so several Skiff servers
 * on one host (each with its own table, bridges and port) never see each
 * other's tasks. `remove()` deletes the table (on shutdown; a leftover table is
 * replaced at the next start and removed by TestServer.destroy()).
 */
import { run } from '../util/exec.ts';
import { METADATA_ADDRESS } from '../network/linux-network.ts';

const NAME_RE = /^[A-Za-z][A-Za-z0-9_]{0,31}$/;
const IFNAME_RE = /^[A-Za-z0-9_.-]{1,15}$/;

export class MetadataNat {
  private readonly bridges = new Set<string>();

  constructor(
    readonly table: string,
    private readonly port: number,
    private readonly nft = 'nft',
  ) {
    if (!NAME_RE.test(table)) throw new Error(`invalid nft table name "${table}"`);
  }

  private async script(text: string): Promise<void> {
    const r = await run(this.nft, ['-f', '-'], { input: text });
    if (r.code !== 0) throw new Error(`nft failed: ${r.stderr.trim()}`);
  }

  /** (Re)creates the table with its redirect rule and no bridges. */
  async install(): Promise<void> {
    const t = `ip ${this.table}`;
    await this.script(
      [
        `add table ${t}`,
        `delete table ${t}`,
        `add table ${t} { comment "skiff: task metadata endpoint"; }`,
        `add set ${t} bridges { type ifname; }`,
        `add chain ${t} prerouting { type nat hook prerouting priority dstnat; policy accept; }`,
        `add rule ${t} prerouting iifname @bridges ip daddr ${METADATA_ADDRESS} tcp dport 80 redirect to :${this.port}`,
      ].join('\n') + '\n',
    );
    this.bridges.clear();
  }

  /** Redirects metadata requests from tasks on `bridge` (idempotent; cheap once done). */
  async allowBridge(bridge: string): Promise<void> {
    if (this.bridges.has(bridge)) return;
    if (!IFNAME_RE.test(bridge)) throw new Error(`invalid bridge name "${bridge}"`);
    await this.script(`add element ip ${this.table} bridges { "${bridge}" }\n`);
    this.bridges.add(bridge);
  }

  async remove(): Promise<void> {
    await run(this.nft, ['delete', 'table', 'ip', this.table]);
    this.bridges.clear();
  }
}
