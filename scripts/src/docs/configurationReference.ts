import { EmbeddedConfigSchema, serviceSchemas } from '@hourglass/control'
import { postgresSettings } from '@hourglass/log/postgres'
import { z } from 'zod'
import { WarehouseStandInSettings } from '../distributed/warehouseStandInSettings.ts'
import { generatedNotice, markdownTable, page } from './markdown.ts'

/**
 * docs/reference/configuration.md from the zod schemas every deployable parses its environment
 * with: each variable with its default, what it accepts and its `.describe()`d meaning.
 */

interface Deployable {
  readonly title: string
  readonly intro: string
  readonly schema: z.ZodObject
}

const deployables: readonly Deployable[] = [
  {
    title: 'Embedded mode: `hourglass start`',
    intro: 'Ingest, projections and query in one process (`npm start`).',
    schema: EmbeddedConfigSchema,
  },
  {
    title: 'Distributed mode: `hourglass ingest`',
    intro: 'The write API: appends telemetry to Kafka, and reads and writes the control plane in PostgreSQL.',
    schema: serviceSchemas.ingest,
  },
  {
    title: 'Distributed mode: `hourglass project`',
    intro: 'A projection worker of the consumer group.',
    schema: serviceSchemas.project,
  },
  {
    title: 'Distributed mode: `hourglass query`',
    intro: 'The read API and the dashboard.',
    schema: serviceSchemas.query,
  },
  {
    title: 'The warehouse stand-in: `hourglass warehouse`',
    intro: 'chDB behind part of ClickHouse\u2019s HTTP interface, for tests and one machine.',
    schema: WarehouseStandInSettings,
  },
  {
    title: 'The PostgreSQL control store',
    intro:
      'Read by every distributed process: the control plane is kept in PostgreSQL (`@hourglass/log/postgres`).',
    schema: z.object(postgresSettings),
  },
]

interface JsonSchemaField {
  readonly type?: string
  readonly description?: string
  readonly default?: unknown
  readonly enum?: readonly unknown[]
  readonly minimum?: number
  readonly maximum?: number
  readonly minLength?: number
  readonly pattern?: string
  readonly format?: string
}

const accepted = (field: JsonSchemaField): string => {
  if (field.enum) return field.enum.map((value) => `\`${String(value)}\``).join(', ')
  if (field.type === 'integer' || field.type === 'number')
    return `${field.type === 'integer' ? 'whole number' : 'number'} ${field.minimum ?? '…'}–${field.maximum ?? '…'}`
  if (field.format === 'uri') return 'URL'
  if (field.pattern) return `text matching \`${field.pattern}\``
  if (field.minLength && field.minLength > 1) return `text of ${field.minLength}+ characters`
  return 'text'
}

const defaultOf = (field: JsonSchemaField, required: boolean) => {
  if (field.default !== undefined) return `\`${String(field.default)}\``
  return required ? '**required**' : 'unset'
}

/** One deployable's variables as rows; a variable without a description is an error, not a blank. */
export function variableRows(schema: z.ZodObject): string[][] {
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as {
    properties?: Record<string, JsonSchemaField>
    required?: string[]
  }
  const required = new Set(json.required ?? [])
  return Object.entries(json.properties ?? {}).map(([name, field]) => {
    if (!field.description) throw new Error(`configuration variable ${name} has no .describe()`)
    const hasDefault = field.default !== undefined
    return [
      `\`${name}\``,
      defaultOf(field, required.has(name) && !hasDefault),
      accepted(field),
      field.description,
    ]
  })
}

const section = (deployable: Deployable) =>
  [
    `## ${deployable.title}`,
    deployable.intro,
    markdownTable(['variable', 'default', 'accepts', 'meaning'], variableRows(deployable.schema)),
  ].join('\n\n')

export function renderConfigurationReference(): string {
  return page(
    generatedNotice('the configuration schemas (`control/src/settings/`, `@hourglass/log/postgres`)'),
    '# Configuration reference',
    'Every process is configured by environment variables, checked once at start: a missing or wrong ' +
      'one stops the process and is named with the reason. Durations are in milliseconds unless the ' +
      'name says seconds. How to run each process: [distributed deployment](../distributed.md), ' +
      '[operations](../operations.md).',
    ...deployables.map(section),
  )
}
