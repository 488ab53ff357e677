//! Tests of the native spawn on real programs.

use super::*;
use std::io::Read;
use std::os::fd::FromRawFd;

fn cstr(s: &str) -> CString {
    CString::new(s).unwrap()
}

/// A spec running `argv` (absolute program path first) with stdio on the
/// test's own descriptors.
fn spec(argv: &[&str]) -> Spec {
    Spec {
        path: cstr(argv[0]),
        argv: argv.iter().map(|a| cstr(a)).collect(),
        env: vec![cstr("PATH=/usr/bin:/bin")],
        fds: [0, 1, 2],
        ..Spec::default()
    }
}

/// Reap `child`; returns the raw wait status.
fn wait(child: Spawned) -> c_int {
    let mut status = 0;
    // SAFETY: waiting for our own child.
    assert_eq!(
        unsafe { libc::waitpid(child.pid, &mut status, 0) },
        child.pid
    );
    if let Some(fd) = child.pidfd {
        // SAFETY: we own it.
        unsafe { libc::close(fd) };
    }
    status
}

fn exit_code(status: c_int) -> c_int {
    assert!(libc::WIFEXITED(status), "status {status:#x}");
    libc::WEXITSTATUS(status)
}

fn kill(child: Spawned) {
    // SAFETY: our own child.
    unsafe { libc::kill(child.pid, libc::SIGKILL) };
    wait(child);
}

/// (read end as a File, write end as a raw fd the caller closes via the guard)
fn pipe() -> (std::fs::File, Fd) {
    let mut fds = [0; 2];
    // SAFETY: valid array.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: we own the read end from here on.
    (unsafe { std::fs::File::from_raw_fd(fds[0]) }, Fd(fds[1]))
}

/// Run `argv` with stdout captured; returns (output, exit code).
fn output(mut spec: Spec) -> (String, c_int) {
    let (mut reader, writer) = pipe();
    spec.fds[1] = writer.0;
    let child = spawn(&spec).unwrap();
    drop(writer);
    let mut text = String::new();
    reader.read_to_string(&mut text).unwrap();
    (text, exit_code(wait(child)))
}

fn proc_field(pid: pid_t, file: &str, key: &str) -> String {
    let text = std::fs::read_to_string(format!("/proc/{pid}/{file}")).unwrap();
    let line = text.lines().find(|l| l.starts_with(key)).unwrap();
    line[key.len()..].trim().to_owned()
}

/// Fields of /proc/<pid>/stat after the command name (state is index 0).
fn stat_fields(pid: pid_t) -> Vec<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = &text[text.rfind(')').unwrap() + 1..];
    rest.split_whitespace().map(str::to_owned).collect()
}

#[test]
fn true_exits_zero_in_every_mode() {
    for copy_on_write in [false, true] {
        let mut s = spec(&["/bin/true"]);
        s.copy_on_write = copy_on_write;
        let child = spawn(&s).unwrap();
        assert!(child.pidfd.is_some());
        assert_eq!(exit_code(wait(child)), 0);
    }
    let child = spawn_with(&spec(&["/bin/true"]), How::Fork).unwrap();
    assert_eq!(exit_code(wait(child)), 0);
}

#[test]
fn a_missing_program_reports_enoent_from_exec() {
    for how in [How::Clone, How::Fork] {
        let err = spawn_with(&spec(&["/nonexistent/program"]), how).unwrap_err();
        assert_eq!(err.stage, Stage::Exec);
        assert_eq!(err.error.raw_os_error(), Some(libc::ENOENT));
    }
}

#[test]
fn a_missing_directory_reports_chdir() {
    let mut s = spec(&["/bin/true"]);
    s.cwd = Some(cstr("/nonexistent/dir"));
    let err = spawn(&s).unwrap_err();
    assert_eq!(err.stage, Stage::Chdir);
    assert_eq!(err.error.raw_os_error(), Some(libc::ENOENT));
}

#[test]
fn a_relative_path_is_refused_before_anything_starts() {
    let err = spawn(&spec(&["true"])).unwrap_err();
    assert_eq!(err.error.raw_os_error(), Some(libc::EINVAL));
}

#[test]
fn stdout_goes_to_the_given_descriptor_and_cwd_applies() {
    let mut s = spec(&["/bin/sh", "-c", "echo hello; pwd"]);
    s.cwd = Some(cstr("/tmp"));
    assert_eq!(output(s), ("hello\n/tmp\n".to_owned(), 0));
}

#[test]
fn the_environment_is_exactly_the_one_given() {
    let mut s = spec(&["/usr/bin/env"]);
    s.env = vec![cstr("A=1"), cstr("B=two")];
    assert_eq!(output(s).0, "A=1\nB=two\n");
}

#[test]
fn only_the_standard_descriptors_reach_the_program() {
    let (_reader, leaked) = pipe();
    // SAFETY: clear CLOEXEC on our own descriptor: a leak candidate.
    unsafe { libc::fcntl(leaked.0, libc::F_SETFD, 0) };
    for copy_on_write in [false, true] {
        let mut s = spec(&["/bin/sleep", "5"]);
        s.copy_on_write = copy_on_write;
        let child = spawn(&s).unwrap();
        let mut fds: Vec<String> = std::fs::read_dir(format!("/proc/{}/fd", child.pid))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        fds.sort();
        assert_eq!(fds, ["0", "1", "2"]);
        kill(child);
    }
}

#[test]
fn sources_among_0_to_2_may_be_permuted() {
    let mut s = spec(&["/bin/sleep", "5"]);
    s.fds = [2, 0, 1];
    let child = spawn(&s).unwrap();
    for (target, source) in [(0, 2), (1, 0), (2, 1)] {
        let theirs = std::fs::read_link(format!("/proc/{}/fd/{target}", child.pid)).unwrap();
        let ours = std::fs::read_link(format!("/proc/self/fd/{source}")).unwrap();
        assert_eq!(theirs, ours, "child fd {target}");
    }
    kill(child);
}

#[test]
fn the_child_leads_a_new_group_or_session() {
    for new_session in [false, true] {
        let mut s = spec(&["/bin/sleep", "5"]);
        s.new_session = new_session;
        let child = spawn(&s).unwrap();
        let fields = stat_fields(child.pid);
        let (pgrp, session) = (&fields[2], &fields[3]);
        assert_eq!(pgrp, &child.pid.to_string());
        let own_session = std::fs::read_to_string("/proc/self/stat").unwrap();
        let own: Vec<&str> = own_session[own_session.rfind(')').unwrap() + 1..]
            .split_whitespace()
            .collect();
        if new_session {
            assert_eq!(session, &child.pid.to_string());
        } else {
            assert_eq!(session, own[3]);
        }
        kill(child);
    }
}

#[test]
fn resource_limits_apply_before_exec() {
    let mut s = spec(&["/bin/sh", "-c", "ulimit -n; ulimit -t"]);
    s.rlimits = vec![
        Rlimit {
            resource: libc::RLIMIT_NOFILE as c_int,
            soft: 17,
            hard: 17,
        },
        Rlimit {
            resource: libc::RLIMIT_CPU as c_int,
            soft: 7,
            hard: 9,
        },
    ];
    assert_eq!(output(s), ("17\n7\n".to_owned(), 0));
}

#[test]
fn an_impossible_limit_reports_setrlimit() {
    let mut s = spec(&["/bin/true"]);
    s.rlimits = vec![Rlimit {
        resource: libc::RLIMIT_NOFILE as c_int,
        soft: 10,
        hard: 5,
    }];
    let err = spawn(&s).unwrap_err();
    assert_eq!(err.stage, Stage::Rlimit);
    assert_eq!(err.error.raw_os_error(), Some(libc::EINVAL));
}

#[test]
fn ignored_and_blocked_signals_do_not_reach_the_program() {
    // SAFETY: SIGUSR2 is used by no other test of this binary.
    unsafe { libc::signal(libc::SIGUSR2, libc::SIG_IGN) };
    let child = spawn(&spec(&["/bin/sleep", "5"])).unwrap();
    assert_eq!(
        proc_field(child.pid, "status", "SigIgn:"),
        "0000000000000000"
    );
    assert_eq!(
        proc_field(child.pid, "status", "SigBlk:"),
        "0000000000000000"
    );
    kill(child);
    // SAFETY: as above.
    unsafe { libc::signal(libc::SIGUSR2, libc::SIG_DFL) };
}

#[test]
fn spawns_from_many_threads_at_once_all_succeed() {
    let threads: Vec<_> = (0..6)
        .map(|_| {
            std::thread::spawn(|| {
                for _ in 0..40 {
                    let child = spawn(&spec(&["/bin/true"])).unwrap();
                    assert_eq!(exit_code(wait(child)), 0);
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
}

/// The cgroup v2 mount point from /proc/self/mountinfo, if any.
fn cgroup2_mount() -> Option<String> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    text.lines().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        right
            .starts_with("cgroup2 ")
            .then(|| left.split_whitespace().nth(4).map(str::to_owned))?
    })
}

#[test]
fn a_child_starts_inside_the_given_cgroup() {
    let Some(mount) = cgroup2_mount() else {
        eprintln!("no cgroup v2 mount: skipped");
        return;
    };
    let dir = format!("{mount}/cuprum-native-test-{}", std::process::id());
    if std::fs::create_dir(&dir).is_err() {
        eprintln!("cannot create {dir}: skipped");
        return;
    }
    let handle = std::fs::File::open(&dir).unwrap();
    for copy_on_write in [false, true] {
        let mut s = spec(&["/bin/sleep", "5"]);
        s.cgroup = Some(std::os::fd::AsRawFd::as_raw_fd(&handle));
        s.copy_on_write = copy_on_write;
        let child = spawn(&s).unwrap();
        let cgroup = std::fs::read_to_string(format!("/proc/{}/cgroup", child.pid)).unwrap();
        let name = &dir[mount.len()..];
        assert!(
            cgroup.lines().any(|l| l == format!("0::{name}")),
            "{cgroup}"
        );
        kill(child);
    }
    drop(handle);
    std::fs::remove_dir(&dir).unwrap();
}

#[test]
fn a_bad_cgroup_descriptor_fails_the_clone() {
    let mut s = spec(&["/bin/true"]);
    s.cgroup = Some(0); // stdin: not a cgroup directory
    let err = spawn(&s).unwrap_err();
    assert_eq!(err.stage, Stage::Clone);
}

/// The mount point of the cgroup v1 hierarchy holding `controller`, if any.
fn cgroup1_mount(controller: &str) -> Option<String> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    text.lines().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        let mut tail = right.split_whitespace();
        let (fstype, options) = (tail.next()?, tail.nth(1)?);
        (fstype == "cgroup" && options.split(',').any(|o| o == controller))
            .then(|| left.split_whitespace().nth(4).map(str::to_owned))?
    })
}

#[test]
fn a_child_joins_extra_cgroups_before_exec() {
    let Some(mount) = cgroup1_mount("pids") else {
        eprintln!("no cgroup v1 pids hierarchy: skipped");
        return;
    };
    let dir = format!("{mount}/cuprum-native-join-{}", std::process::id());
    if std::fs::create_dir(&dir).is_err() {
        eprintln!("cannot create {dir}: skipped");
        return;
    }
    let procs = std::fs::OpenOptions::new()
        .write(true)
        .open(format!("{dir}/cgroup.procs"))
        .unwrap();
    let mut s = spec(&["/bin/sleep", "5"]);
    s.join_cgroups = vec![std::os::fd::AsRawFd::as_raw_fd(&procs)];
    let child = spawn(&s).unwrap();
    let cgroup = std::fs::read_to_string(format!("/proc/{}/cgroup", child.pid)).unwrap();
    let name = &dir[mount.len()..];
    assert!(
        cgroup
            .lines()
            .any(|l| l.ends_with(&format!(":pids:{name}"))),
        "{cgroup}"
    );
    kill(child);
    drop(procs);
    // The killed child leaves the cgroup once it has been reaped.
    std::fs::remove_dir(&dir).unwrap();
}

#[test]
fn a_join_that_fails_reports_the_cgroup_stage() {
    let read_only = std::fs::File::open("/dev/null").unwrap();
    let mut s = spec(&["/bin/true"]);
    s.join_cgroups = vec![std::os::fd::AsRawFd::as_raw_fd(&read_only)];
    let err = spawn(&s).unwrap_err();
    assert_eq!(err.stage, Stage::Cgroup);
    assert_eq!(err.error.raw_os_error(), Some(libc::EBADF));
}
