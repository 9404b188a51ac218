//! `cargo xtask sizes`: what each task uses, where it went, and tighter
//! `max-sizes` caps worth writing down.
//!
//! The image is built first (as `dist` builds it: the numbers are the
//! ones the archive's tasks were placed with). One row per task: its
//! sections (text, read-only data, data, bss, stack), then for flash and
//! for RAM what it uses, the region it was given (the use rounded up under
//! the board's rule) and its cap (`auto` when app.toml gives none). Then
//! the image's totals. As Hubris's `sizes` does, we end with suggestions:
//! a cap well above what a task needs hides growth that would otherwise
//! show in review, so for each cap larger than the task's region we
//! suggest the region size.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use app_config::{Config, Memory, Task};

use crate::dist::{Image, TaskSizes};

pub fn sizes(app_toml: &Path) -> Result<()> {
    let image = crate::dist::dist(app_toml)?;
    print!("{}", report(&image));
    if image.image_elf.is_some() {
        // A microcontroller board's kernel is built per image and shares
        // its memory with the tasks, so its size belongs here too (the
        // hosted kernel is a Linux program).
        let elf = std::fs::read(&image.kernel).with_context(|| {
            format!("cannot read {}", image.kernel.display())
        })?;
        print!("{}", kernel_line(&crate::elf::sections(&elf)?));
    }
    Ok(())
}

/// The kernel's sections, and what they take of flash and RAM (before
/// its stack, which is the rest of the kernel's RAM).
fn kernel_line(s: &crate::elf::Sections) -> String {
    format!(
        "\nkernel: text {} rodata {} data {} bss {} (flash {}, RAM {} \
         before the stack)\n",
        s.text,
        s.rodata,
        s.data,
        s.bss,
        s.text + s.rodata + s.data,
        s.data + s.bss
    )
}

/// The whole report for a built image.
pub fn report(image: &Image) -> String {
    let mut out = table(&image.config, &image.sizes);
    out.push_str(&suggestions(&image.config, &image.sizes));
    out
}

const HEADER: [&str; 12] = [
    "TASK", "TEXT", "RODATA", "DATA", "BSS", "STACK", "FLASH", "REGION", "CAP",
    "RAM", "REGION", "CAP",
];

/// The table of tasks and the totals line.
fn table(config: &Config, sizes: &[TaskSizes]) -> String {
    let mut rows: Vec<[String; 12]> = Vec::new();
    for (task, s) in config.tasks().iter().zip(sizes) {
        rows.push([
            task.name.clone(),
            s.sections.text.to_string(),
            s.sections.rodata.to_string(),
            s.sections.data.to_string(),
            s.sections.bss.to_string(),
            s.layout.stack.size.to_string(),
            s.usage.flash.to_string(),
            s.layout.flash.size.to_string(),
            cap(task.max_flash),
            s.usage.ram.to_string(),
            s.layout.ram.size.to_string(),
            cap(task.max_ram),
        ]);
    }
    let total = |f: &dyn Fn(&TaskSizes) -> u64| {
        sizes.iter().map(f).sum::<u64>().to_string()
    };
    rows.push([
        "(total)".to_owned(),
        total(&|s| s.sections.text),
        total(&|s| s.sections.rodata),
        total(&|s| s.sections.data),
        total(&|s| s.sections.bss),
        total(&|s| u64::from(s.layout.stack.size)),
        total(&|s| s.usage.flash),
        total(&|s| u64::from(s.layout.flash.size)),
        String::new(),
        total(&|s| s.usage.ram),
        total(&|s| u64::from(s.layout.ram.size)),
        String::new(),
    ]);
    let widths: Vec<usize> = (0..HEADER.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].len())
                .chain([HEADER[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    let mut line = |cells: &[&str]| {
        let mut text = String::new();
        for (i, cell) in cells.iter().enumerate() {
            let w = widths[i];
            match i {
                0 => write!(text, "{cell:<w$}"),
                _ => write!(text, "  {cell:>w$}"),
            }
            .unwrap_or(());
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&HEADER);
    for row in &rows {
        let cells: Vec<&str> = row.iter().map(String::as_str).collect();
        line(&cells);
    }
    out
}

fn cap(cap: Option<u32>) -> String {
    cap.map_or_else(|| "auto".to_owned(), |c| c.to_string())
}

/// Caps larger than the region their task needs, with the region size
/// as the suggested cap.
fn suggestions(config: &Config, sizes: &[TaskSizes]) -> String {
    let mut lines = Vec::new();
    for (task, s) in config.tasks().iter().zip(sizes) {
        for (memory, region) in [
            (Memory::Flash, s.layout.flash.size),
            (Memory::Ram, s.layout.ram.size),
        ] {
            if let Some(cap) = cap_of(task, memory)
                && cap > region
            {
                lines.push(format!(
                    "  tasks.{}.max-sizes.{} = {region}  (now {cap})",
                    task.name,
                    memory.key()
                ));
            }
        }
    }
    if lines.is_empty() {
        return String::new();
    }
    format!(
        "\nSuggested caps (each task's region; a cap above it only hides \
         growth):\n{}\n",
        lines.join("\n")
    )
}

fn cap_of(task: &Task, memory: Memory) -> Option<u32> {
    match memory {
        Memory::Flash => task.max_flash,
        Memory::Ram => task.max_ram,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app_config::{TaskLayout, TaskUsage};
    use image_manifest::Region;

    use crate::elf::Sections;

    fn config() -> Config {
        let text = r#"
            name = "t"
            board = "hosted"
            stacksize = 1024
            [tasks.jefe]
            name = "task-jefe"
            priority = 0
            notifications = ["fault"]
            max-sizes = {flash = 65536}
            [tasks.idle]
            name = "task-idle"
            priority = 1
        "#;
        Config::parse(text, "app.toml").expect("valid")
    }

    fn sized(flash: u64, ram: u64, text: u64) -> TaskSizes {
        let usage = TaskUsage { flash, ram };
        TaskSizes {
            usage,
            sections: Sections {
                text,
                rodata: 10,
                data: 4,
                bss: 20,
            },
            layout: TaskLayout {
                flash: Region {
                    base: 0,
                    size: 8192,
                },
                ram: Region {
                    base: 0,
                    size: 4096,
                },
                stack: Region {
                    base: 0,
                    size: 1024,
                },
            },
        }
    }

    #[test]
    fn the_table_has_a_row_per_task_and_totals() {
        let c = config();
        let out = table(&c, &[sized(5000, 1048, 4000), sized(300, 1030, 200)]);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 4);
        let cells: Vec<&str> = lines[1].split_whitespace().collect();
        assert_eq!(
            cells,
            [
                "jefe", "4000", "10", "4", "20", "1024", "5000", "8192",
                "65536", "1048", "4096", "auto"
            ]
        );
        let total: Vec<&str> = lines[3].split_whitespace().collect();
        assert_eq!(
            total,
            [
                "(total)", "4200", "20", "8", "40", "2048", "5300", "16384",
                "2078", "8192"
            ]
        );
    }

    #[test]
    fn the_kernel_line_adds_up_flash_and_ram() {
        let s = crate::elf::Sections {
            text: 20_000,
            rodata: 3_000,
            data: 8,
            bss: 900,
        };
        assert_eq!(
            kernel_line(&s),
            "\nkernel: text 20000 rodata 3000 data 8 bss 900 (flash 23008, \
             RAM 908 before the stack)\n"
        );
    }

    #[test]
    fn a_cap_above_the_region_is_suggested_down_and_auto_is_left_alone() {
        let c = config();
        let out = suggestions(&c, &[sized(5000, 1048, 4000), sized(1, 1, 1)]);
        assert!(
            out.contains("  tasks.jefe.max-sizes.flash = 8192  (now 65536)"),
            "{out}"
        );
        assert_eq!(out.matches("tasks.").count(), 1, "{out}");
    }
}
