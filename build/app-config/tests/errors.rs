//! One test per rule app.toml can break, each pinning the exact message.
//!
//! Each case starts from a minimal valid image (jefe, one worker, idle)
//! and changes one thing, so that the error seen is the one under test.

use app_config::{
    Area, Config, MPU_MIN_REGION, MemoryMap, RegionRule, TaskUsage,
};

const HEAD: &str = "name = \"t\"\nboard = \"hosted\"\nstacksize = 1024\n";

/// A task table with the keys every task needs, plus `extra` lines.
fn task(name: &str, priority: u8, extra: &str) -> String {
    format!(
        "[tasks.{name}]\nname = \"task-{name}\"\npriority = {priority}\n\
         max-sizes = {{flash = 4096, ram = 8192}}\n{extra}\n"
    )
}

fn jefe(extra: &str) -> String {
    task(
        "jefe",
        0,
        &format!("notifications = [\"fault\", \"timer\"]\n{extra}"),
    )
}

fn idle() -> String {
    task("idle", 9, "")
}

/// jefe, `middle`, idle.
fn image(middle: &str) -> String {
    format!("{HEAD}{}{middle}{}", jefe(""), idle())
}

fn error(text: &str) -> String {
    match Config::parse(text, "app.toml") {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn the_minimal_image_is_valid() {
    let text = image(&task("ping", 2, ""));
    assert!(Config::parse(&text, "app.toml").is_ok());
}

// Rule 1: the supervisor is task 0 with priority 0, alone.

#[test]
fn supervisor_must_have_priority_zero() {
    let text = format!(
        "{HEAD}{}{}",
        task("jefe", 1, "notifications = [\"fault\"]"),
        idle()
    );
    assert_eq!(
        error(&text),
        "app.toml: tasks.jefe.priority: the supervisor (task 0) must have \
         priority 0, not 1"
    );
}

#[test]
fn only_the_supervisor_may_have_priority_zero() {
    assert_eq!(
        error(&image(&task("ping", 0, ""))),
        "app.toml: tasks.ping.priority: priority 0 is reserved for the \
         supervisor (task 0, jefe)"
    );
}

#[test]
fn an_image_without_tasks_is_rejected() {
    assert_eq!(
        error(HEAD),
        "app.toml: tasks: no tasks; the first [tasks.*] table is the \
         supervisor"
    );
}

// Rule 2: the supervisor's first notification is "fault".

#[test]
fn supervisor_first_notification_must_be_fault() {
    let text = format!(
        "{HEAD}{}{}",
        task("jefe", 0, "notifications = [\"timer\", \"fault\"]"),
        idle()
    );
    assert_eq!(
        error(&text),
        "app.toml: tasks.jefe.notifications: the supervisor's first \
         notification must be \"fault\" (the kernel posts bit 0 to it on \
         every fault)"
    );
}

// Rule 3: idle exists and is the least important.

#[test]
fn an_image_without_idle_is_rejected() {
    let text = format!("{HEAD}{}{}", jefe(""), task("ping", 2, ""));
    assert_eq!(
        error(&text),
        "app.toml: tasks: no task named \"idle\"; every image needs one, \
         less important than all others, to run when nothing else can"
    );
}

#[test]
fn a_task_as_unimportant_as_idle_is_rejected() {
    assert_eq!(
        error(&image(&task("ping", 9, ""))),
        "app.toml: tasks.ping.priority: priority 9 is not more important \
         than idle's (9); every other task needs a numerically lower \
         priority"
    );
}

// Rule 4: slots point strictly up in importance, never at oneself.

#[test]
fn calling_a_less_important_task_is_a_priority_inversion() {
    let middle = format!(
        "{}{}",
        task("ping", 2, "task-slots = [\"pong\"]"),
        task("pong", 3, "")
    );
    assert_eq!(
        error(&image(&middle)),
        "app.toml: tasks.ping.task-slots: priority inversion: task ping \
         (priority 2) calls pong (priority 3)"
    );
}

#[test]
fn calling_an_equally_important_task_is_a_priority_inversion() {
    let middle = format!(
        "{}{}",
        task("ping", 3, "task-slots = [{peer = \"pong\"}]"),
        task("pong", 3, "")
    );
    assert_eq!(
        error(&image(&middle)),
        "app.toml: tasks.ping.task-slots: priority inversion: task ping \
         (priority 3) calls pong (priority 3)"
    );
}

#[test]
fn a_task_may_not_name_itself() {
    assert_eq!(
        error(&image(&task("ping", 2, "task-slots = [\"ping\"]"))),
        "app.toml: tasks.ping.task-slots: task ping may not name itself"
    );
}

// Rule 5: names refer to things that exist; slot names are unique.

#[test]
fn a_slot_naming_no_task_is_rejected() {
    assert_eq!(
        error(&image(&task("ping", 2, "task-slots = [\"pongg\"]"))),
        "app.toml: tasks.ping.task-slots: no task named \"pongg\""
    );
}

#[test]
fn a_remapped_slot_naming_no_task_is_rejected() {
    assert_eq!(
        error(&image(&task(
            "ping",
            2,
            "task-slots = [{peer = \"pongg\"}]"
        ))),
        "app.toml: tasks.ping.task-slots: no task named \"pongg\""
    );
}

#[test]
fn duplicate_slot_names_are_rejected() {
    let slots = "task-slots = [\"jefe\", {jefe = \"pong\"}]";
    let middle = format!("{}{}", task("pong", 1, ""), task("ping", 2, slots));
    assert_eq!(
        error(&image(&middle)),
        "app.toml: tasks.ping.task-slots: slot name \"jefe\" is used twice"
    );
}

#[test]
fn a_slot_table_with_two_entries_is_rejected() {
    let text = image(&task(
        "ping",
        2,
        "task-slots = [{a = \"jefe\", b = \"jefe\"}]",
    ));
    assert_eq!(
        error(&text),
        "app.toml:14:15: tasks.ping.task-slots[0]: more than one entry; a \
         task slot is a task name or a single-entry table \
         {slot_name = \"task\"}"
    );
}

// Rule: post-to names other tasks, each once.

#[test]
fn post_to_naming_no_task_is_rejected() {
    assert_eq!(
        error(&image(&task("ping", 2, "post-to = [\"jefee\"]"))),
        "app.toml: tasks.ping.post-to: no task named \"jefee\""
    );
}

#[test]
fn post_to_may_not_name_the_task_itself() {
    assert_eq!(
        error(&image(&task("ping", 2, "post-to = [\"ping\"]"))),
        "app.toml: tasks.ping.post-to: task ping may not name itself (a \
         task's own bits are not posted)"
    );
}

#[test]
fn post_to_naming_a_task_twice_is_rejected() {
    assert_eq!(
        error(&image(&task("ping", 2, "post-to = [\"idle\", \"idle\"]"))),
        "app.toml: tasks.ping.post-to: \"idle\" is listed twice"
    );
}

#[test]
fn post_to_may_name_a_less_important_task() {
    let text = image(&task("ping", 2, "post-to = [\"idle\"]"));
    let config = Config::parse(&text, "app.toml").expect("valid");
    let ping = config.tasks().iter().find(|t| t.name == "ping").unwrap();
    assert_eq!(ping.post_to, vec![2]);
}

#[test]
fn using_an_unknown_peripheral_is_rejected() {
    assert_eq!(
        error(&image(&task("ping", 2, "uses = [\"spi9\"]"))),
        "app.toml: tasks.ping.uses: no peripheral named \"spi9\""
    );
}

#[test]
fn using_a_peripheral_twice_is_rejected() {
    let text = format!(
        "{}[peripherals.spi1]\nmodel = \"spi\"\n",
        image(&task("ping", 2, "uses = [\"spi1\", \"spi1\"]"))
    );
    assert_eq!(
        error(&text),
        "app.toml: tasks.ping.uses: \"spi1\" is listed twice"
    );
}

#[test]
fn a_manager_naming_no_task_is_rejected() {
    let text = format!(
        "{}[peripherals.spi1]\nmodel = \"spi\"\nmanaged-by = \"fpga\"\n",
        image("")
    );
    assert_eq!(
        error(&text),
        "app.toml: peripherals.spi1.managed-by: no task named \"fpga\""
    );
}

// Rule 6: notifications and interrupts.

#[test]
fn a_bad_notification_name_is_rejected() {
    assert_eq!(
        error(&image(&task("ping", 2, "notifications = [\"Timer\"]"))),
        "app.toml: tasks.ping.notifications: \"Timer\" is not a valid \
         notification name: use lowercase letters, digits, '_' or '-'"
    );
}

#[test]
fn an_empty_notification_name_is_rejected() {
    assert_eq!(
        error(&image(&task("ping", 2, "notifications = [\"\"]"))),
        "app.toml: tasks.ping.notifications: \"\" is not a valid \
         notification name: use lowercase letters, digits, '_' or '-'"
    );
}

#[test]
fn a_repeated_notification_is_rejected() {
    let n = "notifications = [\"timer\", \"timer\"]";
    assert_eq!(
        error(&image(&task("ping", 2, n))),
        "app.toml: tasks.ping.notifications: \"timer\" is listed twice"
    );
}

#[test]
fn thirty_two_notifications_are_too_many() {
    let names: Vec<String> = (0..32).map(|i| format!("\"n{i}\"")).collect();
    let n = format!("notifications = [{}]", names.join(", "));
    assert_eq!(
        error(&image(&task("ping", 2, &n))),
        "app.toml: tasks.ping.notifications: 32 notifications; at most 31 \
         are allowed (bit 31 is reserved for userlib's internal timer)"
    );
    let names: Vec<String> = (0..31).map(|i| format!("\"n{i}\"")).collect();
    let n = format!("notifications = [{}]", names.join(", "));
    assert!(Config::parse(&image(&task("ping", 2, &n)), "app.toml").is_ok());
}

/// jefe, idle, a task `drv` with `extra`, and a peripheral spi1 with one
/// IRQ line `irq`.
fn irq_image(drv_extra: &str, more: &str) -> String {
    let drv = task(
        "drv",
        1,
        &format!("notifications = [\"spi-irq\"]\n{drv_extra}"),
    );
    format!(
        "{}{more}[peripherals.spi1]\nmodel = \"spi\"\nirqs = [\"irq\"]\n",
        image(&drv)
    )
}

#[test]
fn a_routed_irq_needs_a_dotted_name() {
    let text =
        irq_image("uses = [\"spi1\"]\ninterrupts = {spi1 = \"spi-irq\"}", "");
    assert_eq!(
        error(&text),
        "app.toml: tasks.drv.interrupts.spi1: expected \
         \"<peripheral>.<irq>\""
    );
}

#[test]
fn a_routed_irq_needs_its_peripheral_in_uses() {
    let text = irq_image("interrupts = {\"spi1.irq\" = \"spi-irq\"}", "");
    assert_eq!(
        error(&text),
        "app.toml: tasks.drv.interrupts.\"spi1.irq\": peripheral \"spi1\" \
         is not in this task's uses"
    );
}

#[test]
fn a_routed_irq_must_be_one_the_peripheral_raises() {
    let text = irq_image(
        "uses = [\"spi1\"]\ninterrupts = {\"spi1.rx\" = \"spi-irq\"}",
        "",
    );
    assert_eq!(
        error(&text),
        "app.toml: tasks.drv.interrupts.\"spi1.rx\": peripheral spi1 has no \
         IRQ \"rx\" (its irqs: irq)"
    );
}

#[test]
fn a_routed_irq_from_a_peripheral_without_irqs_is_rejected() {
    let drv = task(
        "drv",
        1,
        "uses = [\"gpio\"]\nnotifications = [\"edge\"]\n\
         interrupts = {\"gpio.edge\" = \"edge\"}",
    );
    let text = format!("{}[peripherals.gpio]\nmodel = \"gpio\"\n", image(&drv));
    assert_eq!(
        error(&text),
        "app.toml: tasks.drv.interrupts.\"gpio.edge\": peripheral gpio has \
         no IRQ \"edge\" (it raises none)"
    );
}

#[test]
fn a_routed_irq_must_post_a_declared_notification() {
    let text = irq_image(
        "uses = [\"spi1\"]\ninterrupts = {\"spi1.irq\" = \"spi_irq\"}",
        "",
    );
    assert_eq!(
        error(&text),
        "app.toml: tasks.drv.interrupts.\"spi1.irq\": no notification named \
         \"spi_irq\" in tasks.drv.notifications"
    );
}

#[test]
fn an_irq_may_be_routed_to_only_one_task() {
    let route = "uses = [\"spi1\"]\ninterrupts = {\"spi1.irq\" = \"spi-irq\"}";
    let other =
        task("mon", 2, &format!("notifications = [\"spi-irq\"]\n{route}"));
    assert_eq!(
        error(&irq_image(route, &other)),
        "app.toml: tasks.mon.interrupts.\"spi1.irq\": already routed to \
         task drv"
    );
}

#[test]
fn a_repeated_irq_line_is_rejected() {
    let text = format!(
        "{}[peripherals.spi1]\nmodel = \"spi\"\nirqs = [\"irq\", \"irq\"]\n",
        image("")
    );
    assert_eq!(
        error(&text),
        "app.toml: peripherals.spi1.irqs: \"irq\" is listed twice"
    );
}

// Rule 7: kipc grants name real kernel calls.

#[test]
fn an_unknown_kipc_is_rejected() {
    let known: Vec<_> =
        abi::Kipcnum::ALL.iter().map(|k| k.grant_name()).collect();
    assert!(known.starts_with(&["read_task_status", "reinit_task"]));
    assert_eq!(
        error(&image(&task("ping", 2, "kipc = [\"fault_tsk\"]"))),
        format!(
            "app.toml: tasks.ping.kipc: unknown kipc \"fault_tsk\"; known: {}",
            known.join(", ")
        )
    );
}

#[test]
fn a_repeated_kipc_is_rejected() {
    let k = "kipc = [\"fault_task\", \"fault_task\"]";
    assert_eq!(
        error(&image(&task("ping", 2, k))),
        "app.toml: tasks.ping.kipc: \"fault_task\" is listed twice"
    );
}

// Rule 8: memory and names.

/// A task with explicit sizes and no other extras.
fn sized(flash: u32, ram: u32, extra: &str) -> String {
    format!(
        "[tasks.ping]\nname = \"task-ping\"\npriority = 2\n\
         max-sizes = {{flash = {flash}, ram = {ram}}}\n{extra}\n"
    )
}

#[test]
fn zero_flash_is_rejected() {
    assert_eq!(
        error(&image(&sized(0, 8192, ""))),
        "app.toml: tasks.ping.max-sizes.flash: must be greater than 0"
    );
}

#[test]
fn zero_ram_is_rejected() {
    assert_eq!(
        error(&image(&sized(4096, 0, ""))),
        "app.toml: tasks.ping.max-sizes.ram: must be greater than 0"
    );
}

#[test]
fn zero_stack_is_rejected() {
    assert_eq!(
        error(&image(&sized(4096, 8192, "stacksize = 0"))),
        "app.toml: tasks.ping.stacksize: must be greater than 0"
    );
}

#[test]
fn a_stack_is_required_somewhere() {
    let text = image(&task("ping", 2, "")).replace("stacksize = 1024\n", "");
    assert_eq!(
        error(&text),
        "app.toml: tasks.jefe.stacksize: not set, and there is no top-level \
         stacksize to default to"
    );
}

#[test]
fn a_stack_must_fit_under_the_ram_cap() {
    assert!(
        Config::parse(&image(&sized(4096, 8192, "stacksize = 8176")), "a")
            .is_ok()
    );
    assert_eq!(
        error(&image(&sized(4096, 8192, "stacksize = 8177"))),
        "app.toml: tasks.ping.stacksize: a 8192-byte stack leaves no room \
         for data under max-sizes.ram (8192); raise max-sizes.ram or lower \
         stacksize"
    );
}

// Rule 8b: sizing. The build measures each task; these give the
// measurements directly.

fn used(flash: u64, ram: u64) -> TaskUsage {
    TaskUsage { flash, ram }
}

fn placed(text: &str, usage: &[TaskUsage]) -> Result<(), String> {
    let c = Config::parse(text, "app.toml").expect("valid before sizing");
    c.place(usage).map(|_| ()).map_err(|e| e.to_string())
}

#[test]
fn a_task_without_caps_is_sized_to_what_it_uses() {
    let text = image(&task("ping", 2, ""))
        .replace("max-sizes = {flash = 4096, ram = 8192}\n", "");
    let c = Config::parse(&text, "app.toml").expect("valid");
    assert!(c.tasks().iter().all(|t| t.max_flash.is_none()));
    let layout = c
        .place(&[used(100, 100), used(70_000, 9000), used(1, 1)])
        .expect("fits");
    assert_eq!(layout[1].flash.size, 73_728);
    assert_eq!(layout[1].ram.size, 12_288);
}

#[test]
fn a_task_that_outgrows_its_flash_cap_is_one_line_with_both_numbers() {
    let text = image(&sized(16384, 8192, ""));
    assert_eq!(
        placed(&text, &[used(1, 1), used(16385, 2000), used(1, 1)]),
        Err(
            "app.toml: tasks.ping.max-sizes.flash: task ping needs 16385 \
             bytes of flash, over its cap of 16384"
                .into()
        )
    );
    assert_eq!(
        placed(&text, &[used(1, 1), used(16384, 8192), used(1, 1)]),
        Ok(())
    );
}

#[test]
fn a_task_that_outgrows_its_ram_cap_is_one_line_with_both_numbers() {
    let text = image(&sized(16384, 8192, ""));
    assert_eq!(
        placed(&text, &[used(1, 1), used(100, 8193), used(1, 1)]),
        Err("app.toml: tasks.ping.max-sizes.ram: task ping needs 8193 \
             bytes of ram, over its cap of 8192"
            .into())
    );
}

#[test]
fn a_cap_may_be_given_for_one_memory_only() {
    let text = image(&task("ping", 2, "")).replace(
        "[tasks.ping]\nname = \"task-ping\"\npriority = 2\n\
         max-sizes = {flash = 4096, ram = 8192}",
        "[tasks.ping]\nname = \"task-ping\"\npriority = 2\n\
         max-sizes = {ram = 8192}",
    );
    assert_eq!(
        placed(&text, &[used(1, 1), used(1 << 20, 100), used(1, 1)]),
        Ok(())
    );
}

#[test]
fn flash_past_the_hosted_area_cannot_be_placed() {
    // After jefe's page and the gap, ping starts at 0x10002000.
    assert_eq!(
        placed(
            &image(&task("ping", 2, ""))
                .replace("max-sizes = {flash = 4096, ram = 8192}\n", "",),
            &[used(1, 1), used(0x3000_0000, 1), used(1, 1)]
        ),
        Err("app.toml: tasks.ping: task ping's flash region (805306368 \
             bytes: a whole number of 4096-byte pages) would be \
             0x10002000..0x40002000, past the end of the board's flash area \
             0x10000000..0x40000000; make the tasks smaller or fewer"
            .into())
    );
}

#[test]
fn ram_past_the_hosted_area_cannot_be_placed() {
    let err = placed(
        &image(&task("ping", 2, ""))
            .replace("max-sizes = {flash = 4096, ram = 8192}\n", ""),
        &[used(1, 1), used(1, 0x8000_0000), used(1, 1)],
    )
    .expect_err("too big");
    assert!(
        err.starts_with(
            "app.toml: tasks.ping: task ping's ram region (2147483648 bytes"
        ),
        "{err}"
    );
    assert!(
        err.contains("past the end of the board's ram area"),
        "{err}"
    );
}

#[test]
fn a_region_the_mpu_cannot_place_names_the_task_and_the_rule() {
    // An MPU board with 80 KiB of RAM: 48 KiB fits in bytes, but the
    // region must be 64 KiB aligned to 64 KiB, which the area cannot hold.
    let map = MemoryMap {
        flash: Area {
            base: 0,
            end: 0x40_0000,
        },
        ram: Area {
            base: 0x2000_4000,
            end: 0x2001_8000,
        },
        rule: RegionRule::PowerOfTwo {
            min: MPU_MIN_REGION,
        },
        flash_gap: 0,
        ram_guard: 0,
    };
    let text = image(&task("ping", 2, ""))
        .replace("max-sizes = {flash = 4096, ram = 8192}\n", "");
    let c = Config::parse(&text, "app.toml").expect("valid");
    let fits =
        c.place_in(&map, &[used(100, 100), used(100, 16000), used(1, 1)]);
    let fits = fits.expect("fits");
    assert_eq!(
        fits[1].ram,
        image_manifest::Region {
            base: 0x2000_4000,
            size: 16384
        }
    );
    let err = c
        .place_in(&map, &[used(100, 100), used(100, 48 * 1024), used(1, 1)])
        .expect_err("cannot be placed");
    assert_eq!(
        err.to_string(),
        "app.toml: tasks.ping: task ping's ram region (65536 bytes: a power \
         of two of at least 32 bytes, aligned to its size (the MPU's rule)) \
         would be 0x20010000..0x20020000, past the end of the board's ram \
         area 0x20004000..0x20018000; make the tasks smaller or fewer"
    );
}

#[test]
fn kernel_is_not_a_task_name() {
    assert_eq!(
        error(&image(&task("kernel", 2, ""))),
        "app.toml: tasks.kernel: \"kernel\" is reserved and cannot be a \
         task name"
    );
}

#[test]
fn a_bad_task_name_is_rejected() {
    assert_eq!(
        error(&image(
            "[tasks.\"Ping Pong\"]\nname = \"task-ping\"\npriority = 2\n\
             max-sizes = {flash = 4096, ram = 8192}\n"
        )),
        "app.toml: tasks.\"Ping Pong\": \"Ping Pong\" is not a valid name: \
         use a lowercase letter, then lowercase letters, digits, '_' or '-'"
    );
}

#[test]
fn a_bad_peripheral_name_is_rejected() {
    let text = format!("{}[peripherals.1spi]\nmodel = \"spi\"\n", image(""));
    assert_eq!(
        error(&text),
        "app.toml: peripherals.1spi: \"1spi\" is not a valid name: use a \
         lowercase letter, then lowercase letters, digits, '_' or '-'"
    );
}

#[test]
fn an_unknown_board_is_named_with_the_known_ones() {
    let text = image("").replace("\"hosted\"", "\"gimlet\"");
    assert_eq!(
        error(&text),
        "app.toml: board: unknown board \"gimlet\"; the boards are \
         \"hosted\", \"mps2-an386\""
    );
}

#[test]
fn the_mps2_board_places_under_the_mpu_rule_or_names_task_and_rule() {
    let text = image(&task("ping", 2, ""))
        .replace("max-sizes = {flash = 4096, ram = 8192}\n", "")
        .replace("\"hosted\"", "\"mps2-an386\"");
    // 3 MiB of RAM for ping: rounded to 4 MiB, more than the board has.
    let err = placed(&text, &[used(100, 100), used(100, 3 << 20), used(1, 1)])
        .expect_err("cannot be placed");
    assert!(
        err.starts_with(
            "app.toml: tasks.ping: task ping's ram region (4194304 bytes: a \
             power of two of at least 32 bytes, aligned to its size (the \
             MPU's rule))"
        ),
        "{err}"
    );
    // What fits is placed largest first, each region aligned to its size.
    let c = Config::parse(&text, "app.toml").expect("valid");
    let layout = c
        .place(&[used(100, 5000), used(40_000, 100), used(1, 1)])
        .expect("fits");
    for t in &layout {
        for r in [t.flash, t.ram] {
            assert!(r.size.is_power_of_two() && r.size >= 32, "{r:?}");
            assert_eq!(r.base % r.size, 0, "{r:?}");
        }
    }
    assert_eq!(layout[1].flash.size, 65536);
    assert_eq!(layout[1].flash.base, 0x0008_0000);
}

#[test]
fn an_image_name_that_would_move_the_socket_or_dumps_is_rejected() {
    for bad in ["../escape", "a/b", ".hidden", "two words"] {
        let text =
            image("").replace("name = \"t\"", &format!("name = {bad:?}"));
        assert_eq!(
            error(&text),
            format!(
                "app.toml: name: {bad:?} is not a valid image name: it names \
                 the probe socket and dump files, so use letters, digits, \
                 '-' or '_' (at most 64, starting with a letter or digit)"
            )
        );
    }
}

#[test]
fn an_absolute_blob_path_is_rejected() {
    let text = format!("{}[blobs]\nbits = \"/etc/passwd\"\n", image(""));
    assert_eq!(
        error(&text),
        "app.toml: blobs.bits: \"/etc/passwd\" is absolute; blob paths are \
         relative to the directory holding app.toml"
    );
}

#[test]
fn a_non_finite_float_in_config_is_rejected() {
    let text = image(&task("ping", 2, "config = {rate = nan}"));
    assert_eq!(
        error(&text),
        "app.toml: tasks.ping.config.rate: NaN cannot be represented in JSON"
    );
}

// Rule 9: the schema itself: unknown keys, types, syntax.

#[test]
fn an_unknown_top_level_key_is_rejected() {
    let text = format!("target = \"x\"\n{}", image(""));
    assert_eq!(
        error(&text),
        "app.toml:1:1: target: unknown field `target`, expected one of \
         `name`, `version`, `board`, `stacksize`, `kernel`, `tasks`, \
         `peripherals`, `blobs`"
    );
}

#[test]
fn an_unknown_task_key_is_rejected() {
    assert_eq!(
        error(&image(&task("ping", 2, "prio = 3"))),
        "app.toml:14:1: tasks.ping.prio: unknown field `prio`, expected one \
         of `name`, `priority`, `start`, `stacksize`, `max-sizes`, `uses`, \
         `notifications`, `interrupts`, `task-slots`, `post-to`, \
         `allowed-callers`, `config`, `features`, `kipc`, `blobs`"
    );
}

#[test]
fn an_unknown_max_sizes_key_is_rejected() {
    let text = image(&task("ping", 2, "")).replace(
        "{flash = 4096, ram = 8192}\n\n[tasks.idle]",
        "{flash = 4096, ram = 8192, sram = 1}\n\n[tasks.idle]",
    );
    assert_eq!(
        error(&text),
        "app.toml:13:40: tasks.ping.max-sizes.sram: unknown field `sram`, \
         expected `flash` or `ram`"
    );
}

#[test]
fn a_missing_required_key_is_rejected() {
    let text = image(&task("ping", 2, "")).replace(
        "name = \"task-ping\"\npriority = 2\n",
        "name = \"task-ping\"\n",
    );
    assert_eq!(
        error(&text),
        "app.toml:10:1: tasks.ping: missing field `priority`"
    );
}

#[test]
fn a_parse_error_quotes_keys_that_are_not_bare() {
    let text = image(&task("ping", 2, "config = {\"a b\" = [1, {c = nan}]}"));
    assert_eq!(
        error(&text),
        "app.toml: tasks.ping.config.\"a b\"[1].c: NaN cannot be \
         represented in JSON"
    );
    let text = image(&task("ping", 2, "interrupts = {\"x.y\" = 1}"));
    assert_eq!(
        error(&text),
        "app.toml:14:23: tasks.ping.interrupts.\"x.y\": invalid type: \
         integer `1`, expected a string"
    );
}

#[test]
fn a_wrongly_typed_value_is_rejected() {
    assert_eq!(
        error(&image(&task("ping", 2, "start = \"yes\""))),
        "app.toml:14:9: tasks.ping.start: invalid type: string \"yes\", \
         expected a boolean"
    );
}

#[test]
fn a_priority_out_of_range_is_rejected() {
    let text =
        image(&task("ping", 2, "")).replace("priority = 2", "priority = 256");
    assert_eq!(
        error(&text),
        "app.toml:12:12: tasks.ping.priority: invalid value: integer `256`, \
         expected u8"
    );
}

#[test]
fn bad_toml_reports_line_and_column() {
    let text = format!("{}[tasks.ping\n", image(""));
    assert_eq!(error(&text), "app.toml:15:12: unclosed table, expected `]`");
}

#[test]
fn a_task_blob_must_be_declared_under_blobs() {
    assert_eq!(
        error(&image(&task("ping", 2, "blobs = [\"nope\"]"))),
        "app.toml: tasks.ping.blobs: no blob named \"nope\" (declare it \
         under [blobs])"
    );
}
