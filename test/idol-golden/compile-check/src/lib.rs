//! Type-checks idol's generated code for the golden fixtures against the
//! real `userlib` and `idol-runtime`: each interface gets the types its
//! `.idol` file names, a server implementing its trait, and a call of
//! `idol_runtime::dispatch` to prove the glue satisfies its bounds.

#![no_std]
#![deny(warnings)]

/// A C-like error enum in Leasehold's style, with its server-death variant.
macro_rules! clike_error {
    ($name:ident { $($variant:ident = $code:literal,)* } died: $died:ident) => {
        #[derive(Copy, Clone, Debug, Eq, PartialEq)]
        #[derive(serde::Serialize, serde::Deserialize)]
        #[derive(hubpack::SerializedSize)]
        #[derive(counters::Count)]
        #[repr(u16)]
        pub enum $name { $($variant = $code,)* }

        impl From<$name> for u16 {
            fn from(e: $name) -> u16 {
                e as u16
            }
        }

        impl TryFrom<u32> for $name {
            type Error = ();

            fn try_from(code: u32) -> core::result::Result<Self, ()> {
                $(if code == $code { return Ok(Self::$variant); })*
                Err(())
            }
        }

        impl idol_runtime::ServerDeathError for $name {
            fn server_death() -> Self {
                Self::$died
            }
        }
    };
}

/// A fieldless enum sent as a `u8`.
macro_rules! primitive_enum {
    ($name:ident { $($variant:ident = $code:literal,)* }) => {
        #[derive(Copy, Clone, Debug, Eq, PartialEq)]
        #[repr(u8)]
        pub enum $name { $($variant = $code,)* }

        impl TryFrom<u8> for $name {
            type Error = ();

            fn try_from(code: u8) -> core::result::Result<Self, ()> {
                $(if code == $code { return Ok(Self::$variant); })*
                Err(())
            }
        }
    };
}

/// Every notification-free server looks the same to `dispatch`.
macro_rules! no_notifications {
    ($server:ty) => {
        impl idol_runtime::NotificationHandler for $server {
            fn current_notification_mask(&self) -> u32 {
                0
            }

            fn handle_notification(&mut self, _bits: u32) {}
        }
    };
}

pub mod fpga {
    clike_error!(FpgaError { BadDevice = 1, DriverDied = 2, } died: DriverDied);
    primitive_enum!(DeviceState { Unknown = 0, Running = 3, });
    primitive_enum!(BitstreamType { Uncompressed = 0, Compressed = 1, });
    primitive_enum!(ReadOp { Read = 1, ReadNoAddrIncr = 6, });
    primitive_enum!(WriteOp { Write = 0, BitSet = 2, });

    pub mod client {
        use super::*;
        include!(concat!(env!("OUT_DIR"), "/fpga_client.rs"));
    }

    pub mod server {
        use super::*;
        include!(concat!(env!("OUT_DIR"), "/fpga_server.rs"));
    }

    use idol_runtime::{Leased, LenLimit, R, RequestError, W};
    use userlib::RecvMessage;

    type Result<T> = core::result::Result<T, RequestError<FpgaError>>;

    pub struct Server {
        locked_by: Option<userlib::TaskId>,
        chunk: [u8; 128],
    }

    no_notifications!(Server);

    impl server::InOrderFpgaImpl for Server {
        fn recv_source(&self) -> Option<userlib::TaskId> {
            self.locked_by
        }

        fn closed_recv_fail(&mut self) {
            self.locked_by = None;
        }

        fn device_enabled(&mut self, _: &RecvMessage, _: u8) -> Result<bool> {
            Ok(true)
        }

        fn set_device_enabled(
            &mut self,
            _: &RecvMessage,
            _: u8,
            _: bool,
        ) -> Result<()> {
            Ok(())
        }

        fn reset_device(&mut self, _: &RecvMessage, _: u8) -> Result<()> {
            Ok(())
        }

        fn device_state(
            &mut self,
            _: &RecvMessage,
            _: u8,
        ) -> Result<DeviceState> {
            Ok(DeviceState::Running)
        }

        fn device_id(&mut self, _: &RecvMessage, _: u8) -> Result<u32> {
            Err(FpgaError::BadDevice.into())
        }

        fn start_bitstream_load(
            &mut self,
            _: &RecvMessage,
            _: u8,
            _: BitstreamType,
        ) -> Result<()> {
            Ok(())
        }

        fn continue_bitstream_load(
            &mut self,
            _: &RecvMessage,
            data: LenLimit<Leased<R, [u8]>, 128>,
        ) -> Result<()> {
            let n = data.len();
            data.read_range(0..n, &mut self.chunk[..n])
                .map_err(|()| RequestError::went_away())
        }

        fn finish_bitstream_load(&mut self, _: &RecvMessage) -> Result<()> {
            Ok(())
        }

        fn user_design_enabled(
            &mut self,
            _: &RecvMessage,
            _: u8,
        ) -> Result<bool> {
            Ok(false)
        }

        fn set_user_design_enabled(
            &mut self,
            _: &RecvMessage,
            _: u8,
            _: bool,
        ) -> Result<()> {
            Ok(())
        }

        fn reset_user_design(&mut self, _: &RecvMessage, _: u8) -> Result<()> {
            Ok(())
        }

        fn user_design_read(
            &mut self,
            _: &RecvMessage,
            _: u8,
            _: ReadOp,
            _: u16,
            data: Leased<W, [u8]>,
        ) -> Result<()> {
            data.write_at(0, 0xAA)
                .map_err(|()| RequestError::went_away())
        }

        fn user_design_write(
            &mut self,
            _: &RecvMessage,
            _: u8,
            _: WriteOp,
            _: u16,
            data: Leased<R, [u8]>,
        ) -> Result<()> {
            data.read_at(0).ok_or_else(RequestError::went_away)?;
            Ok(())
        }

        fn user_design_read_reg(
            &mut self,
            _: &RecvMessage,
            _: u8,
            _: u16,
        ) -> Result<u8> {
            Ok(0)
        }

        fn user_design_write_reg(
            &mut self,
            _: &RecvMessage,
            _: u8,
            _: WriteOp,
            _: u16,
            _: u8,
        ) -> Result<()> {
            Ok(())
        }

        fn lock(&mut self, msg: &RecvMessage, _: u8) -> Result<()> {
            self.locked_by = Some(msg.sender);
            Ok(())
        }

        fn release(&mut self, _: &RecvMessage) -> Result<()> {
            self.locked_by = None;
            Ok(())
        }
    }

    pub fn serve_once(server: &mut Server) {
        let mut buffer = [0u8; server::INCOMING_SIZE];
        idol_runtime::dispatch::<_, server::FpgaOperation>(&mut buffer, server);
    }

    pub fn use_client(fpga: &client::Fpga) -> Result<()> {
        let mut data = [0u8; 16];
        fpga.set_device_enabled(0, true)?;
        let _: DeviceState = fpga.device_state(0)?;
        fpga.start_bitstream_load(0, BitstreamType::Compressed)?;
        fpga.continue_bitstream_load(&data)?;
        fpga.user_design_read(0, ReadOp::Read, 0x10, &mut data)?;
        Ok(())
    }
}

pub mod spi {
    clike_error!(SpiError { BadDevice = 1, ServerRestarted = 4, }
        died: ServerRestarted);
    primitive_enum!(CsState { NotAsserted = 0, Asserted = 1, });

    pub mod client {
        use super::*;
        include!(concat!(env!("OUT_DIR"), "/spi_client.rs"));
    }

    pub mod server {
        use super::*;
        include!(concat!(env!("OUT_DIR"), "/spi_server.rs"));
    }

    use idol_runtime::{Leased, LenLimit, R, RequestError, W};
    use userlib::RecvMessage;

    type Result<T> = core::result::Result<T, RequestError<SpiError>>;

    pub struct Server;

    no_notifications!(Server);

    impl server::InOrderSpiImpl for Server {
        fn read(
            &mut self,
            _: &RecvMessage,
            _: u8,
            _: LenLimit<Leased<W, [u8]>, 65535>,
        ) -> Result<()> {
            Ok(())
        }

        fn write(
            &mut self,
            _: &RecvMessage,
            _: u8,
            _: LenLimit<Leased<R, [u8]>, 65535>,
        ) -> Result<()> {
            Ok(())
        }

        fn exchange(
            &mut self,
            _: &RecvMessage,
            _: u8,
            _: LenLimit<Leased<R, [u8]>, 65535>,
            _: LenLimit<Leased<W, [u8]>, 65535>,
        ) -> Result<()> {
            Ok(())
        }

        fn lock(&mut self, _: &RecvMessage, _: u8, _: CsState) -> Result<()> {
            Ok(())
        }

        fn release(&mut self, _: &RecvMessage) -> Result<()> {
            Ok(())
        }
    }

    pub fn serve_once(server: &mut Server) {
        let mut buffer = [0u8; server::INCOMING_SIZE];
        idol_runtime::dispatch::<_, server::SpiOperation>(&mut buffer, server);
    }

    pub fn use_client(spi: &client::Spi) -> Result<()> {
        let source = [1u8, 2, 3];
        let mut sink = [0u8; 3];
        spi.exchange(0, &source, &mut sink)?;
        spi.lock(0, CsState::Asserted)?;
        Ok(())
    }

    /// What a server does with `<op>_with_leases`: pass on bytes 4..12 of
    /// lease 0 that its own client `lender` lent it, read-only.
    pub fn forward_to(
        spi: &client::Spi,
        lender: userlib::TaskId,
    ) -> Result<()> {
        let part = userlib::Lease::forwarded(
            lender,
            0,
            userlib::LeaseAttributes::READ,
            4,
            8,
        );
        spi.write_with_leases(0, [part])?;
        Ok(())
    }
}

pub mod jefe {
    clike_error!(DumpAgentError { BadArea = 1, DumperDied = 2, }
        died: DumperDied);

    #[derive(Copy, Clone, Debug, serde::Serialize, serde::Deserialize)]
    pub enum ResetReason {
        PowerOn,
        Watchdog { task: u16 },
    }

    #[derive(
        Copy,
        Clone,
        Debug,
        serde::Serialize,
        serde::Deserialize,
        hubpack::SerializedSize,
    )]
    pub struct DumpArea {
        pub address: u32,
        pub length: u32,
    }

    pub mod client {
        use super::*;
        include!(concat!(env!("OUT_DIR"), "/jefe_client.rs"));
    }

    pub mod server {
        use super::*;
        include!(concat!(env!("OUT_DIR"), "/jefe_server.rs"));
    }

    /// The same interface as a restricted server (see build.rs).
    pub mod restricted_server {
        use super::*;
        include!(concat!(env!("OUT_DIR"), "/jefe_restricted_server.rs"));
    }

    use core::convert::Infallible;
    use idol_runtime::{Leased, RequestError, W};
    use userlib::RecvMessage;

    type Simple<T> = Result<T, RequestError<Infallible>>;
    type Dump<T> = Result<T, RequestError<DumpAgentError>>;

    pub struct Server {
        state: u32,
    }

    no_notifications!(Server);

    impl server::InOrderJefeImpl for Server {
        fn get_state(&mut self, _: &RecvMessage) -> Simple<u32> {
            Ok(self.state)
        }

        fn set_state(&mut self, _: &RecvMessage, state: u32) -> Simple<()> {
            self.state = state;
            Ok(())
        }

        fn request_reset(&mut self, _: &RecvMessage) -> Simple<()> {
            Ok(())
        }

        fn get_reset_reason(&mut self, _: &RecvMessage) -> Simple<ResetReason> {
            Ok(ResetReason::PowerOn)
        }

        fn set_reset_reason(
            &mut self,
            _: &RecvMessage,
            _: ResetReason,
        ) -> Simple<()> {
            Ok(())
        }

        fn reinitialize_dump_areas(&mut self, _: &RecvMessage) -> Dump<()> {
            Ok(())
        }

        fn get_dump_area(&mut self, _: &RecvMessage, _: u8) -> Dump<DumpArea> {
            Err(DumpAgentError::BadArea.into())
        }

        fn dump_task_region(
            &mut self,
            _: &RecvMessage,
            _: u32,
            _: u32,
            _: u32,
        ) -> Dump<u8> {
            Ok(0)
        }

        fn restart_me_raw(&mut self, _: &RecvMessage) -> Simple<()> {
            Ok(())
        }

        fn read_fault_counts(
            &mut self,
            _: &RecvMessage,
            data: Leased<W, [u32; 4]>,
        ) -> Simple<()> {
            data.write([0; 4]).map_err(|()| RequestError::went_away())
        }
    }

    pub fn serve_once(server: &mut Server) {
        let mut buffer = [0u8; server::INCOMING_SIZE];
        idol_runtime::dispatch::<_, server::JefeOperation>(&mut buffer, server);
    }

    pub fn use_client(jefe: &client::Jefe) -> Dump<()> {
        jefe.set_state(jefe.get_state() + 1);
        jefe.set_reset_reason(ResetReason::Watchdog { task: 3 });
        let _: DumpArea = jefe.get_dump_area(0)?;
        let _: u8 = jefe.dump_task_region(1, 0x1000, 64)?;
        let mut counts = [0u32; 4];
        jefe.read_fault_counts(&mut counts);
        if jefe.restart_me_raw().is_err() {
            // Jefe restarted during the call: ServerDeath, not a panic.
        }
        Ok(())
    }
}

pub mod sampler {
    clike_error!(SamplerError { TooFast = 1, SamplerDied = 2, }
        died: SamplerDied);

    #[derive(Copy, Clone, Debug)]
    pub struct Rate(pub u16);

    impl From<u16> for Rate {
        fn from(raw: u16) -> Self {
            Rate(raw)
        }
    }

    impl From<Rate> for u16 {
        fn from(rate: Rate) -> u16 {
            rate.0
        }
    }

    #[derive(Copy, Clone, Debug)]
    pub struct Celsius(pub u32);

    impl Celsius {
        pub fn from_raw(raw: u32) -> Self {
            Celsius(raw)
        }
    }

    impl From<Celsius> for u32 {
        fn from(c: Celsius) -> u32 {
            c.0
        }
    }

    #[derive(
        Copy,
        Clone,
        Debug,
        zerocopy::FromBytes,
        zerocopy::IntoBytes,
        zerocopy::Immutable,
    )]
    #[repr(C)]
    pub struct Settings {
        pub gain: u16,
        pub offset: u16,
    }

    pub mod client {
        use super::*;
        include!(concat!(env!("OUT_DIR"), "/sampler_client.rs"));
    }

    pub mod server {
        use super::*;
        include!(concat!(env!("OUT_DIR"), "/sampler_server.rs"));
    }

    use core::convert::Infallible;
    use idol_runtime::{Leased, LenLimit, R, RW, RequestError};
    use userlib::RecvMessage;

    pub struct Server {
        rate: Rate,
    }

    no_notifications!(Server);

    impl server::InOrderSamplerImpl for Server {
        fn configure(
            &mut self,
            _: &RecvMessage,
            rate: Rate,
            _reply: u8,
            _counters: bool,
        ) -> Result<(), RequestError<SamplerError>> {
            if rate.0 > 1000 {
                return Err(SamplerError::TooFast.into());
            }
            self.rate = rate;
            Ok(())
        }

        fn temperature(
            &mut self,
            _: &RecvMessage,
            _task: u8,
            _length: u32,
        ) -> Result<Celsius, RequestError<Infallible>> {
            Ok(Celsius(21))
        }

        fn filter(
            &mut self,
            _: &RecvMessage,
            data: LenLimit<Leased<RW, [u16]>, 64>,
            settings: Leased<R, Settings>,
        ) -> Result<u32, RequestError<SamplerError>> {
            let settings =
                settings.read().ok_or_else(RequestError::went_away)?;
            let mut samples = [0u16; 64];
            let n = data.len();
            data.read_range(0..n, &mut samples[..n])
                .map_err(|()| RequestError::went_away())?;
            for s in &mut samples[..n] {
                *s =
                    s.wrapping_mul(settings.gain).wrapping_add(settings.offset);
            }
            data.write_range(0..n, &samples[..n])
                .map_err(|()| RequestError::went_away())?;
            Ok(n as u32)
        }

        fn latest(
            &mut self,
            _: &RecvMessage,
        ) -> Result<Rate, RequestError<Infallible>> {
            Ok(self.rate)
        }
    }

    pub fn serve_once(server: &mut Server) {
        let mut buffer = [0u8; server::INCOMING_SIZE];
        idol_runtime::dispatch::<_, server::SamplerOperation>(
            &mut buffer,
            server,
        );
    }

    pub fn use_client(sampler: &client::Sampler) -> Result<u32, SamplerError> {
        sampler.configure(Rate(100), 1, true)?;
        let _: Celsius = sampler.temperature(0, 4).unwrap_or(Celsius(0));
        let mut samples = [1u16, 2, 3];
        let settings = Settings { gain: 2, offset: 1 };
        let _: Rate = sampler.latest();
        sampler.filter(&mut samples, &settings)?;
        // The lease-table form, with locally built leases.
        let leases = [
            userlib::Lease::read_write(zerocopy::IntoBytes::as_mut_bytes(
                &mut samples,
            )),
            userlib::Lease::read_only(zerocopy::IntoBytes::as_bytes(&settings)),
        ];
        sampler.filter_with_leases(leases)
    }
}
