// Where the server under test runs and keeps its data; shared by the config
// (which starts the server) and the tests (which add users to its database).
import * as path from 'path';

export const port = Number(process.env.E2E_PORT ?? 3100);
export const baseURL = `http://127.0.0.1:${port}`;
export const root = path.resolve(__dirname, '..');
export const binary = path.join(root, 'target/release/session-guard');
export const dbFile = path.join(__dirname, '.tmp', `e2e-${port}.db`);
// The proxy tests (scripts/e2e-proxy) name their PostgreSQL database.
export const databaseUrl = process.env.E2E_DATABASE_URL ?? `sqlite://${dbFile}`;
