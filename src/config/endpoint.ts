/** Where a Skiff server listens unless told otherwise: a leaf module, so the CLI reads it without loading the server's configuration. */
export const DEFAULT_PORT = 8080;
export const DEFAULT_ENDPOINT = `http://127.0.0.1:${DEFAULT_PORT}`;
