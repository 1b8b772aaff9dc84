import { chmodSync, type Dirent, mkdirSync, readdirSync } from 'node:fs'
import { join } from 'node:path'

const PRIVATE_FOLDER = 0o700
const PRIVATE_FILE = 0o600

/**
 * Makes the data folder readable by its owner only: the folder and its subfolders 0700, its
 * files 0600, including those a folder written by an earlier version left open. Files created
 * from now on by this process (the log, chDB's parts, the keys) are created private too: the
 * embedded server owns its process, so it sets the process's file-creation mask.
 */
export function makeDataFolderPrivate(dataDir: string) {
  process.umask(0o077)
  mkdirSync(dataDir, { recursive: true, mode: PRIVATE_FOLDER })
  chmodSync(dataDir, PRIVATE_FOLDER)
  tightenFolder(dataDir)
}

function tightenFolder(folder: string) {
  for (const entry of readdirSync(folder, { withFileTypes: true })) tightenEntry(folder, entry)
}

function tightenEntry(folder: string, entry: Dirent) {
  const path = join(folder, entry.name)
  if (entry.isDirectory()) {
    chmodSync(path, PRIVATE_FOLDER)
    tightenFolder(path)
  } else if (entry.isFile()) chmodSync(path, PRIVATE_FILE)
}
