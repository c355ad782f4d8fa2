#!/usr/bin/env bash
# Build cost of each candidate: a clean `cargo build --release` of a tiny
# binary that uses only that crate (3 runs, against an empty binary), and the
# crates it pulls in (`cargo tree | wc -l`, and distinct crates), and how many
# of those herd does not already build. Works under /tmp, removed afterwards.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
w=/tmp/store-choice-build
rm -rf "$w"; mkdir -p "$w"
(cd "$root" && cargo tree -e normal --prefix none | sed 's/ (\*)$//; s/ (.*)$//' | awk '{print $1}' | sort -u) > "$w/herd-crates.txt"

mk() { # name dep-line main-body
  mkdir -p "$w/$1/src"
  printf '[package]\nname = "tiny-%s"\nversion = "0.1.0"\nedition = "2024"\n\n[workspace]\n\n[dependencies]\n%s\n' "$1" "$2" > "$w/$1/Cargo.toml"
  printf 'fn main() {\n%s\n}\n' "$3" > "$w/$1/src/main.rs"
}
mk none "" 'println!("hello");'
mk fjall 'fjall = "3.1"' '    let d = std::env::temp_dir().join("tiny-fjall");
    let db = fjall::Database::builder(&d).temporary(true).open().unwrap();
    let ks = db.keyspace("k", fjall::KeyspaceCreateOptions::default).unwrap();
    ks.insert("a", "b").unwrap();
    println!("{:?}", ks.get("a").unwrap());'
mk rusqlite 'rusqlite = { version = "0.43", features = ["bundled"] }' '    let c = rusqlite::Connection::open_in_memory().unwrap();
    let v: i64 = c.query_row("SELECT 1", [], |r| r.get(0)).unwrap();
    println!("{v}");'
mk redb 'redb = "5"' '    const T: redb::TableDefinition<&str, &str> = redb::TableDefinition::new("t");
    let p = std::env::temp_dir().join("tiny.redb");
    let db = redb::Database::create(&p).unwrap();
    let tx = db.begin_write().unwrap();
    tx.open_table(T).unwrap().insert("a", "b").unwrap();
    tx.commit().unwrap();
    drop(db);
    std::fs::remove_file(&p).unwrap();'

for c in none fjall rusqlite redb; do
  cd "$w/$c"
  cargo fetch -q
  times=()
  for rep in 1 2 3; do
    rm -rf target
    s=$(date +%s.%N)
    cargo build --release -q
    e=$(date +%s.%N)
    times+=("$(echo "$e - $s" | bc)")
  done
  lines=$(cargo tree | wc -l)
  cargo tree -e normal,build --prefix none | sed 's/ (\*)$//; s/ (.*)$//' | awk '{print $1}' | sort -u > crates.txt
  distinct=$(($(wc -l < crates.txt) - 1))
  new=$(comm -23 crates.txt "$w/herd-crates.txt" | grep -vc "^tiny-" || true)
  bin=$(stat -c %s target/release/tiny-$c)
  echo "$c: load $(cut -d" " -f1-3 /proc/loadavg); clean release build ${times[*]} s; cargo tree | wc -l = $lines; distinct crates besides the binary $distinct, of them not already in herd's tree $new; binary $((bin / 1024)) KiB"
done
rm -rf "$w"
