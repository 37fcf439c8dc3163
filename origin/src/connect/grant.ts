/** Gives the CDC role what Debezium needs beyond REPLICATION: read access for the snapshot. */
import pg from "pg";

export async function grantCdcAccess(databaseUrl: string, cdcRole: string): Promise<void> {
  if (!/^[a-z_][a-z0-9_]*$/.test(cdcRole)) throw new Error(`CDC role must be a plain identifier: ${cdcRole}`);
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    // Identifiers cannot be bound as parameters; the role name was validated above.
    await client.query(`GRANT USAGE ON SCHEMA public TO ${cdcRole}`);
    await client.query(`GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${cdcRole}`);
  } finally {
    await client.end();
  }
}
