/** A numbered change to the warehouse's tables, applied once (migrations.ts). */
export interface Migration {
  readonly version: number
  readonly name: string
  /** Statements for the warehouse; `{db}` stands for the database. Each must be safe to run twice. */
  readonly statements: readonly string[]
}
