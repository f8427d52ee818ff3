/** Identifiers and literals for the few statements that cannot take parameters (DDL, GRANT). */
export function quoteIdent(name: string): string {
	// Always quoted: an unquoted name can collide with a keyword (a role called "user").
	return `"${name.replaceAll('"', '""')}"`;
}

export function quoteLiteral(value: string): string {
	return `'${value.replaceAll("'", "''")}'`;
}
