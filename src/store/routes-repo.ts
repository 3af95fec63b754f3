/**
 * NAT gateways and route tables (the EC2 subset of src/ec2/route-api.ts).
 * Skiff keeps only what decides egress: a subnet's explicit route table
 * association and that table's routes to NAT gateways. A VPC's main route table
 * holds only its `local` route (implicit); subnets without an association use it.
 */
import type { Db } from './db.ts';

export interface NatGatewayRecord {
  id: string;
  subnetId: string;
  vpcId: string;
  state: 'available' | 'deleted';
  createdAt: number;
  deletedAt?: number;
}

export interface RouteRecord {
  destination: string;
  natGatewayId?: string;
}

export interface RouteTableRecord {
  id: string;
  vpcId: string;
  routes: RouteRecord[];
  associations: { id: string; subnetId: string }[];
}

export class RoutesRepo {
  constructor(private readonly db: Db) {}

  insertNatGateway(n: NatGatewayRecord): void {
    this.db.prepare(`INSERT INTO nat_gateways (id, subnet_id, vpc_id, state, created_at) VALUES (?, ?, ?, ?, ?)`).run(n.id, n.subnetId, n.vpcId, n.state, n.createdAt);
  }

  natGateways(): NatGatewayRecord[] {
    const rows = this.db.prepare(`SELECT id, subnet_id, vpc_id, state, created_at, deleted_at FROM nat_gateways ORDER BY created_at, id`).all() as {
      id: string; subnet_id: string; vpc_id: string; state: 'available' | 'deleted'; created_at: number; deleted_at: number | null;
    }[];
    return rows.map((r) => ({ id: r.id, subnetId: r.subnet_id, vpcId: r.vpc_id, state: r.state, createdAt: r.created_at, ...(r.deleted_at ? { deletedAt: r.deleted_at } : {}) }));
  }

  natGateway(id: string): NatGatewayRecord | undefined {
    return this.natGateways().find((n) => n.id === id);
  }

  /** DeleteNatGateway: the gateway stays listed as `deleted` (as on AWS, for a while). */
  deleteNatGateway(id: string, now: number): void {
    this.db.prepare(`UPDATE nat_gateways SET state = 'deleted', deleted_at = ? WHERE id = ?`).run(now, id);
  }

  insertRouteTable(id: string, vpcId: string): void {
    this.db.prepare(`INSERT INTO route_tables (id, vpc_id) VALUES (?, ?)`).run(id, vpcId);
  }

  routeTables(): RouteTableRecord[] {
    const tables = this.db.prepare(`SELECT id, vpc_id FROM route_tables ORDER BY id`).all() as { id: string; vpc_id: string }[];
    const routes = this.db.prepare(`SELECT route_table_id, destination, nat_gateway_id FROM routes ORDER BY destination`).all() as {
      route_table_id: string; destination: string; nat_gateway_id: string | null;
    }[];
    const assocs = this.db.prepare(`SELECT id, route_table_id, subnet_id FROM route_table_associations ORDER BY id`).all() as {
      id: string; route_table_id: string; subnet_id: string;
    }[];
    return tables.map((t) => ({
      id: t.id,
      vpcId: t.vpc_id,
      routes: routes.filter((r) => r.route_table_id === t.id).map((r) => ({ destination: r.destination, ...(r.nat_gateway_id ? { natGatewayId: r.nat_gateway_id } : {}) })),
      associations: assocs.filter((a) => a.route_table_id === t.id).map((a) => ({ id: a.id, subnetId: a.subnet_id })),
    }));
  }

  routeTable(id: string): RouteTableRecord | undefined {
    return this.routeTables().find((t) => t.id === id);
  }

  /** Fails (SQLite constraint) when the route exists: callers check first. */
  insertRoute(routeTableId: string, route: RouteRecord): void {
    this.db.prepare(`INSERT INTO routes (route_table_id, destination, nat_gateway_id) VALUES (?, ?, ?)`).run(routeTableId, route.destination, route.natGatewayId ?? null);
  }

  deleteRoute(routeTableId: string, destination: string): boolean {
    return this.db.prepare(`DELETE FROM routes WHERE route_table_id = ? AND destination = ?`).run(routeTableId, destination).changes > 0;
  }

  associate(id: string, routeTableId: string, subnetId: string): void {
    this.db.prepare(`INSERT INTO route_table_associations (id, route_table_id, subnet_id) VALUES (?, ?, ?)`).run(id, routeTableId, subnetId);
  }

  disassociate(associationId: string): boolean {
    return this.db.prepare(`DELETE FROM route_table_associations WHERE id = ?`).run(associationId).changes > 0;
  }

  /** Drops the subnet's association (the subnet is being deleted). */
  disassociateSubnet(subnetId: string): void {
    this.db.prepare(`DELETE FROM route_table_associations WHERE subnet_id = ?`).run(subnetId);
  }

  deleteRouteTable(id: string): void {
    this.db.transaction(() => {
      this.db.prepare(`DELETE FROM routes WHERE route_table_id = ?`).run(id);
      this.db.prepare(`DELETE FROM route_tables WHERE id = ?`).run(id);
    })();
  }

  /**
   * Subnet id → the NAT gateway its 0.0.0.0/0 route points to, for subnets whose
   * associated route table has such a route to an `available` gateway.
   */
  natRoutes(): Map<string, string> {
    const rows = this.db
      .prepare(
        `SELECT a.subnet_id AS subnetId, r.nat_gateway_id AS nat
           FROM route_table_associations a JOIN routes r ON r.route_table_id = a.route_table_id
           JOIN nat_gateways n ON n.id = r.nat_gateway_id
          WHERE r.destination = '0.0.0.0/0' AND n.state = 'available'`,
      )
      .all() as { subnetId: string; nat: string }[];
    return new Map(rows.map((r) => [r.subnetId, r.nat]));
  }
}
