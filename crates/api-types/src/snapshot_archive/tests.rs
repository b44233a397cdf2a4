use super::*;
use std::io::Write;

fn meta() -> SnapshotMeta {
    SnapshotMeta {
        configuration: SnapshotConfiguration {
            servers: vec![SnapshotServer {
                suffrage: 0,
                id: "c13f9998-a0f3-d765-0b52-55a0b3ce5f88".into(),
                address: "10.1.0.10:4647".into(),
            }],
        },
        configuration_index: 3,
        ..SnapshotMeta::new(2, 19, 1_592_495_928_936)
    }
}

/// The archive's files as `read_archive` sees them, for checking what was written.
fn unpack(archive: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut tar_bytes = Vec::new();
    flate2::read::GzDecoder::new(archive)
        .read_to_end(&mut tar_bytes)
        .unwrap();
    let mut files = Vec::new();
    for entry in tar::Archive::new(tar_bytes.as_slice()).entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().display().to_string();
        let mut content = Vec::new();
        entry.read_to_end(&mut content).unwrap();
        files.push((name, content));
    }
    files
}

#[test]
fn round_trip_keeps_meta_and_state() {
    let state = b"\x00\x01opaque state\xff".to_vec();
    let archive = write_archive(&meta(), &state);
    let (read, read_state) = read_archive(&archive).unwrap();
    assert_eq!(read_state, state);
    assert_eq!(
        read,
        SnapshotMeta {
            size: state.len() as i64,
            ..meta()
        }
    );
    assert_eq!(read.created_unix_millis(), Some(1_592_495_928_936));
    // The same snapshot always makes the same bytes.
    assert_eq!(write_archive(&meta(), &state), archive);
}

#[test]
fn an_empty_state_round_trips() {
    let (read, state) = read_archive(&write_archive(&meta(), b"")).unwrap();
    assert_eq!((read.size, state.len()), (0, 0));
}

#[test]
fn files_are_nomads() {
    let files = unpack(&write_archive(&meta(), b"state"));
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["meta.json", "state.bin", "SHA256SUMS"]);
    assert_eq!(
        String::from_utf8_lossy(&files[0].1),
        concat!(
            r#"{"Version":1,"ID":"2-19-1592495928936","Index":19,"Term":2,"Peers":null,"#,
            r#""Configuration":{"Servers":[{"Suffrage":0,"ID":"c13f9998-a0f3-d765-0b52-55a0b3ce5f88","Address":"10.1.0.10:4647"}]},"#,
            r#""ConfigurationIndex":3,"Size":5}"#,
            "\n"
        )
    );
    assert_eq!(files[1].1, b"state");
    assert_eq!(
        String::from_utf8_lossy(&files[2].1),
        format!(
            "{}  meta.json\n{}  state.bin\n",
            sha256_hex(&files[0].1),
            // `printf state | sha256sum`
            "4ba69735ca53765ed6a709edb56c6ea236b7193a3b29a6b390c346f0f4340e4e"
        )
    );
}

#[test]
fn created_time_needs_rafts_id_form() {
    let cases = [
        ("2-19-1592495928936", Some(1_592_495_928_936)),
        ("2-19", None),
        ("2-19-x", None),
        ("2-19-5-6", None),
        ("", None),
    ];
    for (id, want) in cases {
        let meta = SnapshotMeta {
            id: id.into(),
            ..SnapshotMeta::default()
        };
        assert_eq!(meta.created_unix_millis(), want, "{id:?}");
    }
}

fn meta_json(size: usize) -> Vec<u8> {
    let meta = SnapshotMeta {
        size: size as i64,
        ..meta()
    };
    let mut json = serde_json::to_vec(&meta).unwrap();
    json.push(b'\n');
    json
}

fn sums(lines: &[(&[u8], &str)]) -> Vec<u8> {
    lines
        .iter()
        .map(|(content, name)| format!("{}  {name}\n", sha256_hex(content)))
        .collect::<String>()
        .into_bytes()
}

fn archive_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    pack(files, 0).unwrap()
}

#[test]
fn corrupt_archives_say_what_is_wrong() {
    let meta = meta_json(5);
    let state: &[u8] = b"state";
    let good_sums = sums(&[(&meta, "meta.json"), (state, "state.bin")]);
    let good = archive_of(&[
        ("meta.json", &meta),
        ("state.bin", state),
        ("SHA256SUMS", &good_sums),
    ]);
    let mut flipped = good.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0xff;
    let gzip_of_text = {
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gzip.write_all(b"not a tar").unwrap();
        gzip.finish().unwrap()
    };
    let short_meta = meta_json(3);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "json_error_page",
            b"{\"error\":\"no leader\"}".to_vec(),
            "not a snapshot archive: it is not gzip-compressed",
        ),
        (
            "empty_file",
            Vec::new(),
            "not a snapshot archive: it is not gzip-compressed",
        ),
        ("gzip_but_not_tar", gzip_of_text, "not a snapshot archive: "),
        (
            "truncated",
            good[..good.len() / 2].to_vec(),
            "not a snapshot archive: ",
        ),
        ("flipped_byte", flipped, "not a snapshot archive: "),
        (
            "missing_meta",
            archive_of(&[("state.bin", state), ("SHA256SUMS", &good_sums)]),
            "not a complete snapshot archive: meta.json is missing",
        ),
        (
            "missing_state",
            archive_of(&[("meta.json", &meta), ("SHA256SUMS", &good_sums)]),
            "not a complete snapshot archive: state.bin is missing",
        ),
        (
            "missing_sums",
            archive_of(&[("meta.json", &meta), ("state.bin", state)]),
            "not a complete snapshot archive: SHA256SUMS is missing",
        ),
        (
            "unexpected_file",
            archive_of(&[("meta.json", &meta), ("notes.txt", b"hi")]),
            "unexpected file \"notes.txt\" in snapshot archive",
        ),
        (
            "state_twice",
            archive_of(&[("state.bin", state), ("state.bin", state)]),
            "snapshot archive holds state.bin twice",
        ),
        (
            "state_corrupt",
            archive_of(&[
                ("meta.json", &meta),
                ("state.bin", b"stale"),
                ("SHA256SUMS", &good_sums),
            ]),
            "checksum mismatch for state.bin: the file is corrupt",
        ),
        (
            "meta_corrupt",
            archive_of(&[
                ("meta.json", &meta_json(6)),
                ("state.bin", state),
                ("SHA256SUMS", &good_sums),
            ]),
            "checksum mismatch for meta.json: the file is corrupt",
        ),
        (
            "sums_line_garbled",
            archive_of(&[
                ("meta.json", &meta),
                ("state.bin", state),
                ("SHA256SUMS", b"xyz meta.json\n"),
            ]),
            "SHA256SUMS line 1 is not \"<sha256>  <file>\": \"xyz meta.json\"",
        ),
        (
            "sums_without_state",
            archive_of(&[
                ("meta.json", &meta),
                ("state.bin", state),
                ("SHA256SUMS", &sums(&[(&meta, "meta.json")])),
            ]),
            "SHA256SUMS has no checksum for state.bin",
        ),
        (
            "sums_name_a_stranger",
            archive_of(&[
                ("meta.json", &meta),
                ("state.bin", state),
                ("SHA256SUMS", &sums(&[(state, "other.bin")])),
            ]),
            "SHA256SUMS lists \"other.bin\", which is not a snapshot file",
        ),
        (
            "meta_not_json",
            archive_of(&[
                ("meta.json", b"nope"),
                ("state.bin", state),
                (
                    "SHA256SUMS",
                    &sums(&[(b"nope", "meta.json"), (state, "state.bin")]),
                ),
            ]),
            "failed to decode snapshot metadata: ",
        ),
        (
            "size_disagrees",
            archive_of(&[
                ("meta.json", &short_meta),
                ("state.bin", state),
                (
                    "SHA256SUMS",
                    &sums(&[(&short_meta, "meta.json"), (state, "state.bin")]),
                ),
            ]),
            "snapshot metadata says Size 3 but state.bin holds 5 bytes",
        ),
    ];
    assert!(read_archive(&good).is_ok());
    for (name, bytes, want) in cases {
        let error = read_archive(&bytes).unwrap_err().to_string();
        assert!(error.starts_with(want), "{name}: got {error}");
    }
}
